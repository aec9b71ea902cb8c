# mistake: never clears the gradient in zeroed_grads, so step k returns k times the single-step gradient
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
        # MISTAKE: no zeroing, the gradients pile up
        z.backward()
        grads.append(x.grad.clone())
    return grads


def zero_grad_(x: Tensor) -> None:
    if x.grad is not None:
        x.grad.zero_()
