# mistake: caches the leaf tensor per input in a module-level dict, so a second call with the same values adds to the old .grad
# caught-by: test_mean_square_grad_values
# hint: leaked_state
import torch
from torch import Tensor

_leaves = {}


def scalar_square_grad(x0: float) -> Tensor:
    x = torch.tensor(x0, dtype=torch.float32, requires_grad=True)
    (x**2).backward()
    return x.grad


def mean_square_grad(values) -> Tensor:
    key = tuple(values)
    if key not in _leaves:  # MISTAKE: the same leaf, and its .grad, on every call
        _leaves[key] = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    x = _leaves[key]
    (x**2).mean().backward()
    return x.grad.clone()


def mean_grad(f, values) -> Tensor:
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    f(x).mean().backward()
    return x.grad
