"""Exercise 02: the gradient of a scalar and of a mean.

Fill in the three functions below. Read README.md first, then check your
work with `grade 02`. Use autograd for every gradient.
"""

import torch


def scalar_square_grad(x0: float) -> torch.Tensor:
    """Return the gradient of ``y = x ** 2`` at ``x0``.

    The result is a 0-dim tensor (its value is ``2 * x0``).
    """
    # TODO: make a scalar tensor that requires grad, build y, call backward().
    raise NotImplementedError


def mean_square_grad(values) -> torch.Tensor:
    """Return ``x.grad`` after ``loss = (x ** 2).mean()`` and ``loss.backward()``.

    ``values`` is a list of floats; ``x`` is the tensor holding them.
    """
    # TODO: create x, build the loss, run backward(), return the gradient.
    raise NotImplementedError


def mean_grad(f, values) -> torch.Tensor:
    """Return the gradient of ``f(x).mean()`` with respect to ``x``.

    ``f`` is any element-wise differentiable torch function, for example
    ``torch.sin``; it takes a tensor and returns a tensor of the same shape.
    """
    # TODO: the same steps as mean_square_grad, with f instead of squaring.
    raise NotImplementedError
