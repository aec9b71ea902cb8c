# mistake: calls backward once per input (retain_graph=True keeps the graph), so both gradients are accumulated twice
# caught-by: test_scalar_pair_grads_values
# hint: shape_multiple
import torch
from torch import Tensor


def _two_backwards(z: Tensor) -> None:
    z.backward(retain_graph=True)  # "one backward for x1 ..."
    z.backward()  # MISTAKE: "... and one for x2": both .grad now hold twice the gradient


def scalar_pair_grads(x1: float, x2: float) -> tuple[Tensor, Tensor]:
    a = torch.tensor(x1, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(x2, dtype=torch.float32, requires_grad=True)
    _two_backwards(a**2 + 7 * b)
    return a.grad, b.grad


def vector_pair_grads(x1, x2) -> tuple[Tensor, Tensor]:
    a = torch.tensor(x1, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(x2, dtype=torch.float32, requires_grad=True)
    _two_backwards((a**2 + 7 * b).sum())
    return a.grad, b.grad


def pair_grads(f, x1, x2) -> tuple[Tensor, Tensor]:
    a = torch.tensor(x1, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(x2, dtype=torch.float32, requires_grad=True)
    _two_backwards(f(a, b).sum())
    return a.grad, b.grad
