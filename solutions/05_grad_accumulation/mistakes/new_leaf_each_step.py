# mistake: creates x inside the loop, so every backward() fills the .grad of a fresh tensor and nothing accumulates
# caught-by: test_accumulated_grad_values
import torch
from torch import Tensor


def accumulated_grad(values, steps: int) -> Tensor:
    for _ in range(steps):
        x = torch.tensor(values, dtype=torch.float32, requires_grad=True)  # MISTAKE
        z = (x**2 + 2 * x + 7).mean()
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
