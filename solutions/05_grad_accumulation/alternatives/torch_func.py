"""A second reference for exercise 05: torch.func.grad, adding up the steps by hand.

torch.func.grad returns each step's gradient instead of adding it into
``x.grad``, so accumulating is a sum and clearing is not needed at all.
zero_grad_ is about ``.grad`` itself and stays as the tutorial writes it.
"""

import torch
from torch import Tensor
from torch.func import grad


def _loss(x: Tensor) -> Tensor:
    return (x**2 + 2 * x + 7).mean()


def accumulated_grad(values, steps: int) -> Tensor:
    x = torch.tensor(values, dtype=torch.float32)
    total = torch.zeros_like(x)
    for _ in range(steps):
        total = total + grad(_loss)(x)
    return total


def zeroed_grads(values, steps: int) -> list[Tensor]:
    x = torch.tensor(values, dtype=torch.float32)
    return [grad(_loss)(x) for _ in range(steps)]


def zero_grad_(x: Tensor) -> None:
    if x.grad is not None:
        x.grad.zero_()
