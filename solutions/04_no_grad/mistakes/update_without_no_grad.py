# mistake: updates the leaf in place with tracking on, which raises "a leaf Variable that requires grad is being used in an in-place operation"
# caught-by: test_sgd_step_updates_in_place
import torch
from torch import Tensor


def square_no_grad(x: Tensor) -> Tensor:
    with torch.no_grad():
        return x**2


@torch.no_grad()
def square_decorated(x: Tensor) -> Tensor:
    return x**2


def call_without_grad(f, *args, **kwargs):
    with torch.no_grad():
        return f(*args, **kwargs)


def sgd_step_(x: Tensor, lr: float) -> None:
    x -= lr * x.grad  # MISTAKE: not inside torch.no_grad()
