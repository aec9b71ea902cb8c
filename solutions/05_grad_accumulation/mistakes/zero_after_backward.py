# mistake: zeroes the gradient after backward() instead of before it, so every recorded gradient is all zeros
# caught-by: test_zeroed_grads_values
import torch
from torch import Tensor


def accumulated_grad(values, steps: int) -> Tensor:
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    for _ in range(steps):
        z = (x**2 + 2 * x + 7).mean()
        z.backward()
    return x.grad if x.grad is not None else torch.zeros_like(x)


def zeroed_grads(values, steps: int) -> list[Tensor]:
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    grads = []
    for _ in range(steps):
        z = (x**2 + 2 * x + 7).mean()
        z.backward()
        x.grad.zero_()  # MISTAKE: wipes the gradient before it is recorded
        grads.append(x.grad.clone())
    return grads


def zero_grad_(x: Tensor) -> None:
    if x.grad is not None:
        x.grad.zero_()
