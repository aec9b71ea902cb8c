"""Reference solution for exercise 03: gradients with respect to several inputs."""

import torch
from torch import Tensor


def scalar_pair_grads(x1: float, x2: float) -> tuple[Tensor, Tensor]:
    """Return the gradients of ``z = x1 ** 2 + 7 * x2`` with respect to x1 and x2."""
    a = torch.tensor(x1, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(x2, dtype=torch.float32, requires_grad=True)
    z = a**2 + 7 * b
    z.backward()
    return a.grad, b.grad


def vector_pair_grads(x1, x2) -> tuple[Tensor, Tensor]:
    """Return the gradients of ``(x1 ** 2 + 7 * x2).sum()`` for two sequences."""
    a = torch.tensor(x1, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(x2, dtype=torch.float32, requires_grad=True)
    z = (a**2 + 7 * b).sum()
    z.backward()
    return a.grad, b.grad


def pair_grads(f, x1, x2) -> tuple[Tensor, Tensor]:
    """Return the gradients of ``f(x1, x2).sum()`` with respect to each input."""
    a = torch.tensor(x1, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(x2, dtype=torch.float32, requires_grad=True)
    f(a, b).sum().backward()
    # An input that f does not use gets no .grad at all; its gradient is zero.
    grad_a = a.grad if a.grad is not None else torch.zeros_like(a)
    grad_b = b.grad if b.grad is not None else torch.zeros_like(b)
    return grad_a, grad_b
