# mistake: returns the hand-derived gradients 2 * x1 and 7 instead of running backward()
# caught-by: test_uses_autograd
import torch
from torch import Tensor


def scalar_pair_grads(x1: float, x2: float) -> tuple[Tensor, Tensor]:
    a = torch.tensor(x1, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(x2, dtype=torch.float32, requires_grad=True)
    z = a**2 + 7 * b
    z.backward()
    return a.grad, b.grad


def vector_pair_grads(x1, x2) -> tuple[Tensor, Tensor]:
    a = torch.tensor(x1, dtype=torch.float32)
    # MISTAKE: derivatives written by hand, autograd is never used
    return 2 * a, torch.full((len(x2),), 7.0)


def pair_grads(f, x1, x2) -> tuple[Tensor, Tensor]:
    a = torch.tensor(x1, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(x2, dtype=torch.float32, requires_grad=True)
    f(a, b).sum().backward()
    grad_a = a.grad if a.grad is not None else torch.zeros_like(a)
    grad_b = b.grad if b.grad is not None else torch.zeros_like(b)
    return grad_a, grad_b
