# mistake: leaves out the decorator and detaches the result afterwards, so the squaring is still tracked
# caught-by: test_square_runs_without_grad
import torch
from torch import Tensor


def square_no_grad(x: Tensor) -> Tensor:
    with torch.no_grad():
        return x**2


def square_decorated(x: Tensor) -> Tensor:
    # MISTAKE: no @torch.no_grad(); the graph is built and then thrown away
    return (x**2).detach()


def call_without_grad(f, *args, **kwargs):
    with torch.no_grad():
        return f(*args, **kwargs)


def sgd_step_(x: Tensor, lr: float) -> None:
    with torch.no_grad():
        x -= lr * x.grad
