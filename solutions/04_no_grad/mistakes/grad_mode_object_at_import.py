# mistake: makes one torch.set_grad_enabled(False) object at import and reuses it as a context; making it turns grad mode off at import, and leaving it restores the import-time mode, not the caller's
# caught-by: test_call_without_grad_restores_previous_mode
# hint: cause_grad_mode_at_import
import torch
from torch import Tensor

NO_GRAD = torch.set_grad_enabled(False)  # MISTAKE: runs now, and remembers this moment's mode


def square_no_grad(x: Tensor) -> Tensor:
    with torch.no_grad():
        return x**2


@torch.no_grad()
def square_decorated(x: Tensor) -> Tensor:
    return x**2


def call_without_grad(f, *args, **kwargs):
    with NO_GRAD:
        return f(*args, **kwargs)


def sgd_step_(x: Tensor, lr: float) -> None:
    with torch.no_grad():
        x -= lr * x.grad
