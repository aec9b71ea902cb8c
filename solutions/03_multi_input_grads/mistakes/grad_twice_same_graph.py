# mistake: calls torch.autograd.grad twice on the same graph, but the first call frees it, so the second raises
# caught-by: test_pair_grads_any_function
import torch
from torch import Tensor


def scalar_pair_grads(x1: float, x2: float) -> tuple[Tensor, Tensor]:
    a = torch.tensor(x1, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(x2, dtype=torch.float32, requires_grad=True)
    z = a**2 + 7 * b
    z.backward()
    return a.grad, b.grad


def vector_pair_grads(x1, x2) -> tuple[Tensor, Tensor]:
    a = torch.tensor(x1, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(x2, dtype=torch.float32, requires_grad=True)
    z = (a**2 + 7 * b).sum()
    z.backward()
    return a.grad, b.grad


def pair_grads(f, x1, x2) -> tuple[Tensor, Tensor]:
    a = torch.tensor(x1, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(x2, dtype=torch.float32, requires_grad=True)
    z = f(a, b).sum()
    (grad_a,) = torch.autograd.grad(z, a)
    # MISTAKE: the graph was freed by the first call (retain_graph is False)
    (grad_b,) = torch.autograd.grad(z, b)
    return grad_a, grad_b
