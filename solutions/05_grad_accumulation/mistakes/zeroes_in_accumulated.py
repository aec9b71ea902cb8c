# mistake: zeroes the gradient inside the accumulation loop (copied from the zeroing example), so only one step's gradient is returned
# caught-by: test_accumulated_grad_values
import torch
from torch import Tensor


def accumulated_grad(values, steps: int) -> Tensor:
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    for _ in range(steps):
        z = (x**2 + 2 * x + 7).mean()
        if x.grad is not None:
            x.grad.zero_()  # MISTAKE: this exercise wants the gradients to add up
        z.backward()
    return x.grad


def zeroed_grads(values, steps: int) -> list[Tensor]:
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    grads = []
    for _ in range(steps):
        z = (x**2 + 2 * x + 7).mean()
        if x.grad is not None:
            x.grad.zero_()
        z.backward()
        grads.append(x.grad.clone())
    return grads


def zero_grad_(x: Tensor) -> None:
    if x.grad is not None:
        x.grad.zero_()
