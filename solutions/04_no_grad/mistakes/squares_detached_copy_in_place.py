# mistake: squares x.detach() in place, believing detach() makes a copy; it shares x's memory, so the caller's x is squared too
# caught-by: test_square_no_grad_result
# hint: cause_changed_argument_shared
import torch
from torch import Tensor


def square_no_grad(x: Tensor) -> Tensor:
    with torch.no_grad():
        y = x.detach()  # MISTAKE: not a copy; y and x share one memory
        y **= 2
        return y


@torch.no_grad()
def square_decorated(x: Tensor) -> Tensor:
    return x**2


def call_without_grad(f, *args, **kwargs):
    with torch.no_grad():
        return f(*args, **kwargs)


def sgd_step_(x: Tensor, lr: float) -> None:
    with torch.no_grad():
        x -= lr * x.grad
