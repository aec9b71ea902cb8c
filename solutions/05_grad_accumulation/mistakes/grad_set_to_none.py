# mistake: sets x.grad = None instead of zeroing the existing gradient tensor in place
# caught-by: test_zero_grad_in_place
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
        if x.grad is not None:
            x.grad.zero_()
        z.backward()
        grads.append(x.grad.clone())
    return grads


def zero_grad_(x: Tensor) -> None:
    x.grad = None  # MISTAKE: the gradient tensor must stay and become zeros
