"""Exercise 05: gradients accumulate until you zero them.

Fill in the three functions below. Read README.md first, then check your
work with `grade 05`. Use autograd for every gradient.
"""

import torch


def accumulated_grad(values, steps: int) -> torch.Tensor:
    """Call ``backward()`` ``steps`` times without zeroing; return ``x.grad``.

    Each step computes ``z = (x ** 2 + 2 * x + 7).mean()`` for the same ``x``
    and calls ``z.backward()``.
    """
    # TODO
    raise NotImplementedError


def zeroed_grads(values, steps: int) -> list[torch.Tensor]:
    """Run the same loop, clearing the gradient before each ``backward()``.

    Return a list with the gradient after each step: ``steps`` independent
    tensors (later steps must not change earlier entries).
    """
    # TODO
    raise NotImplementedError


def zero_grad_(x: torch.Tensor) -> None:
    """Zero ``x.grad`` in place if it exists; do nothing if it is None.

    "In place" means the same gradient tensor object, now holding zeros.
    """
    # TODO
    raise NotImplementedError
