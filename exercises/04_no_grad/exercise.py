"""Exercise 04: switching gradient tracking off.

Fill in the four functions below. Read README.md first, then check your
work with `grade 04`.
"""

import torch


def square_no_grad(x: torch.Tensor) -> torch.Tensor:
    """Return ``x ** 2`` computed inside a ``with torch.no_grad():`` block.

    The result must not require grad and ``x`` must be left unchanged.
    """
    # TODO: square x with gradient tracking disabled.
    raise NotImplementedError


# TODO: decorate this function so that its whole body runs without tracking.
def square_decorated(x: torch.Tensor) -> torch.Tensor:
    """Return ``x ** 2``; tracking is switched off by a decorator, not a with-block."""
    # TODO
    raise NotImplementedError


def call_without_grad(f, *args, **kwargs):
    """Return ``f(*args, **kwargs)`` evaluated with gradient tracking disabled.

    Afterwards the grad mode must be what it was before the call, also when
    ``f`` raises an exception.
    """
    # TODO
    raise NotImplementedError


def sgd_step_(x: torch.Tensor, lr: float) -> None:
    """Update ``x`` in place: ``x -= lr * x.grad``, without recording the update.

    ``x`` must stay the same object, a leaf that requires grad, and
    ``x.grad`` must be left as it is. Return nothing.
    """
    # TODO
    raise NotImplementedError
