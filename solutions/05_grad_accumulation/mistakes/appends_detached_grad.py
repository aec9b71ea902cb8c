# mistake: stores x.grad.detach(), which shares memory with x.grad, instead of a clone
# caught-by: test_steps_are_independent
"""Mistake bank entry for exercise 05: gradients accumulate until you zero them."""

import torch
from torch import Tensor


def _loss(x: Tensor) -> Tensor:
    return (x**2 + 2 * x + 7).mean()


def accumulated_grad(values, steps: int) -> Tensor:
    """Call backward ``steps`` times without zeroing and return ``x.grad``."""
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    for _ in range(steps):
        _loss(x).backward()
    # With steps == 0 no backward ran and x.grad is still None: the sum of
    # zero gradients is zero.
    return x.grad if x.grad is not None else torch.zeros_like(x)


def zeroed_grads(values, steps: int) -> list[Tensor]:
    """Zero the gradient before each backward; return a copy of it after each step."""
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    grads = []
    for _ in range(steps):
        z = _loss(x)
        zero_grad_(x)
        z.backward()
        # MISTAKE: detach() makes a new tensor object that still shares x.grad's memory.
        grads.append(x.grad.detach())
    return grads


def zero_grad_(x: Tensor) -> None:
    """Zero ``x.grad`` in place if it exists; do nothing if it is None."""
    if x.grad is not None:
        x.grad.zero_()
