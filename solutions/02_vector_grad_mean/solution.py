"""Reference solution for exercise 02: gradients of a scalar and of a mean."""

import torch
from torch import Tensor


def scalar_square_grad(x0: float) -> Tensor:
    """Return dy/dx of ``y = x ** 2`` at ``x0`` as a 0-dim tensor."""
    x = torch.tensor(x0, dtype=torch.float32, requires_grad=True)
    y = x**2
    y.backward()
    return x.grad


def mean_square_grad(values) -> Tensor:
    """Return ``x.grad`` after ``(x ** 2).mean().backward()``."""
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    loss = (x**2).mean()
    loss.backward()
    return x.grad


def mean_grad(f, values) -> Tensor:
    """Return the gradient of ``f(x).mean()`` with respect to ``x``."""
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    loss = f(x).mean()
    loss.backward()
    return x.grad
