# mistake: keeps x at module level and rebuilds it only when the values change, so a repeated call keeps accumulating into the old x.grad
# caught-by: test_accumulated_grad_values
# hint: leaked_state
import torch
from torch import Tensor

x = None


def _loss(x: Tensor) -> Tensor:
    return (x**2 + 2 * x + 7).mean()


def accumulated_grad(values, steps: int) -> Tensor:
    global x
    t = torch.tensor(values, dtype=torch.float32)
    if x is None or not torch.equal(x.detach(), t):  # MISTAKE: reuses x (and x.grad)
        x = t.requires_grad_(True)
    for _ in range(steps):
        _loss(x).backward()
    return x.grad.clone()


def zeroed_grads(values, steps: int) -> list[Tensor]:
    t = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    grads = []
    for _ in range(steps):
        z = _loss(t)
        zero_grad_(t)
        z.backward()
        grads.append(t.grad.clone())
    return grads


def zero_grad_(x: Tensor) -> None:
    if x.grad is not None:
        x.grad.zero_()
