"""A second reference for exercise 03: torch.autograd.functional instead of backward()."""

import torch
from torch import Tensor
from torch.autograd.functional import jacobian, vjp


def scalar_pair_grads(x1: float, x2: float) -> tuple[Tensor, Tensor]:
    a = torch.tensor(x1, dtype=torch.float32)
    b = torch.tensor(x2, dtype=torch.float32)
    return jacobian(lambda a, b: a**2 + 7 * b, (a, b))


def vector_pair_grads(x1, x2) -> tuple[Tensor, Tensor]:
    a = torch.tensor(x1, dtype=torch.float32)
    b = torch.tensor(x2, dtype=torch.float32)
    _, grads = vjp(lambda a, b: (a**2 + 7 * b).sum(), (a, b))
    return grads


def pair_grads(f, x1, x2) -> tuple[Tensor, Tensor]:
    a = torch.tensor(x1, dtype=torch.float32)
    b = torch.tensor(x2, dtype=torch.float32)
    # An input that f does not use gets a zero gradient (strict=False, the default).
    _, grads = vjp(lambda a, b: f(a, b).sum(), (a, b))
    return grads
