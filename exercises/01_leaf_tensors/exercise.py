"""Exercise 01: leaf tensors and the autograd graph.

Fill in the three functions below. Read README.md first, then check your
work with `grade 01`.
"""

import torch


def make_leaf(values) -> torch.Tensor:
    """Return a 1-D floating-point tensor holding ``values`` that autograd tracks.

    ``values`` is a list of Python numbers and may contain ints. The result
    must have ``requires_grad`` True and must be a leaf of the graph.
    """
    # TODO: create the tensor so that it is floating point, requires grad,
    #       and is still a leaf (think about when the dtype is chosen).
    raise NotImplementedError


def square_and_sum(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(y, z)`` with ``y = x ** 2`` and ``z = y.sum()``.

    Both results must be recorded in the graph, so that ``z.backward()``
    leaves ``2 * x`` in ``x.grad``. Do not call ``backward()`` here.
    """
    # TODO: build y from x, then z from y.
    raise NotImplementedError


def leaf_flags(tensors) -> list[bool]:
    """Return a list with one bool per tensor: is it a leaf of the autograd graph?"""
    # TODO: one entry per tensor, in the same order.
    raise NotImplementedError
