# mistake: keeps the leaf tensors in a mutable default argument, so calling again with the same inputs adds to their old .grad
# caught-by: test_scalar_pair_grads_values
# hint: leaked_state
import torch
from torch import Tensor


def scalar_pair_grads(x1: float, x2: float, _leaves={}) -> tuple[Tensor, Tensor]:  # noqa: B006
    if (x1, x2) not in _leaves:  # MISTAKE: the default dict lives as long as the function
        _leaves[(x1, x2)] = (
            torch.tensor(x1, dtype=torch.float32, requires_grad=True),
            torch.tensor(x2, dtype=torch.float32, requires_grad=True),
        )
    a, b = _leaves[(x1, x2)]
    (a**2 + 7 * b).backward()
    return a.grad.clone(), b.grad.clone()


def vector_pair_grads(x1, x2) -> tuple[Tensor, Tensor]:
    a = torch.tensor(x1, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(x2, dtype=torch.float32, requires_grad=True)
    (a**2 + 7 * b).sum().backward()
    return a.grad, b.grad


def pair_grads(f, x1, x2) -> tuple[Tensor, Tensor]:
    a = torch.tensor(x1, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(x2, dtype=torch.float32, requires_grad=True)
    f(a, b).sum().backward()
    grad_a = a.grad if a.grad is not None else torch.zeros_like(a)
    grad_b = b.grad if b.grad is not None else torch.zeros_like(b)
    return grad_a, grad_b
