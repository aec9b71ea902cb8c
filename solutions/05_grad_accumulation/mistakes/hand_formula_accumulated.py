# mistake: returns the hand-derived result steps * (2 * x + 2) / n instead of calling backward() steps times
# caught-by: test_uses_autograd
import torch
from torch import Tensor


def accumulated_grad(values, steps: int) -> Tensor:
    x = torch.tensor(values, dtype=torch.float32)
    # MISTAKE: formula instead of autograd
    return steps * (2 * x + 2) / len(values)


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
