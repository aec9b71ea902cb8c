# mistake: pair_grads calls backward() once per gradient it returns, but the first backward frees the graph, so the second raises
# caught-by: test_pair_grads_any_function
# hint: graph_freed
import torch
from torch import Tensor


def scalar_pair_grads(x1: float, x2: float) -> tuple[Tensor, Tensor]:
    """Return the gradients of ``z = x1 ** 2 + 7 * x2`` with respect to x1 and x2."""
    a = torch.tensor(x1, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(x2, dtype=torch.float32, requires_grad=True)
    z = a**2 + 7 * b
    z.backward()
    return a.grad, b.grad


def vector_pair_grads(x1, x2) -> tuple[Tensor, Tensor]:
    """Return the gradients of ``(x1 ** 2 + 7 * x2).sum()`` for two sequences."""
    a = torch.tensor(x1, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(x2, dtype=torch.float32, requires_grad=True)
    z = (a**2 + 7 * b).sum()
    z.backward()
    return a.grad, b.grad


def pair_grads(f, x1, x2) -> tuple[Tensor, Tensor]:
    """Return the gradients of ``f(x1, x2).sum()`` with respect to each input."""
    a = torch.tensor(x1, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(x2, dtype=torch.float32, requires_grad=True)
    z = f(a, b).sum()
    z.backward()
    grad_a = a.grad
    z.backward()
    grad_b = b.grad
    return grad_a, grad_b
