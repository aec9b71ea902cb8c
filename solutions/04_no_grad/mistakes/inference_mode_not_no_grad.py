# mistake: computes x ** 2 under torch.inference_mode() where torch.no_grad() is asked for: the numbers are right, but autograd can never use the result afterwards
# caught-by: test_square_no_grad_result
# hint: cause_inference_mode
import torch
from torch import Tensor


def square_no_grad(x: Tensor) -> Tensor:
    # MISTAKE: inference_mode is not no_grad; the result is an inference tensor
    with torch.inference_mode():
        return x**2


@torch.no_grad()
def square_decorated(x: Tensor) -> Tensor:
    return x**2


def call_without_grad(f, *args, **kwargs):
    with torch.no_grad():
        return f(*args, **kwargs)


def sgd_step_(x: Tensor, lr: float) -> None:
    with torch.no_grad():
        x -= lr * x.grad
