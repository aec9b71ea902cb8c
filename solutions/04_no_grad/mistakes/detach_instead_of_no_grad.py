# mistake: detaches x and squares it with tracking still on, instead of turning tracking off with torch.no_grad()
# caught-by: test_square_runs_without_grad
import torch
from torch import Tensor


def square_no_grad(x: Tensor) -> Tensor:
    # MISTAKE: the value is right, but the squaring runs with grad mode enabled
    return x.detach() ** 2


@torch.no_grad()
def square_decorated(x: Tensor) -> Tensor:
    return x**2


def call_without_grad(f, *args, **kwargs):
    with torch.no_grad():
        return f(*args, **kwargs)


def sgd_step_(x: Tensor, lr: float) -> None:
    with torch.no_grad():
        x -= lr * x.grad
