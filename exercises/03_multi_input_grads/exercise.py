"""Exercise 03: gradients with respect to several inputs.

Fill in the three functions below. Read README.md first, then check your
work with `grade 03`. Use autograd for every gradient.
"""

import torch


def scalar_pair_grads(x1: float, x2: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the gradients of ``z = x1 ** 2 + 7 * x2`` as a tuple ``(dz/dx1, dz/dx2)``."""
    # TODO: two scalar tensors that require grad, one backward() call.
    raise NotImplementedError


def vector_pair_grads(x1, x2) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the gradients of ``z = (x1 ** 2 + 7 * x2).sum()`` as a tuple.

    ``x1`` and ``x2`` are lists of floats of the same length; each gradient
    has that length too.
    """
    # TODO: like scalar_pair_grads, with vectors.
    raise NotImplementedError


def pair_grads(f, x1, x2) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the gradients of ``f(x1, x2).sum()`` with respect to ``x1`` and ``x2``.

    ``f`` is any differentiable torch function of two tensors, for example
    ``lambda a, b: torch.sin(a) * b``.
    """
    # TODO: one graph, gradients for both inputs.
    raise NotImplementedError
