# mistake: computes the gradients of the mean squared error with hand-derived formulas instead of calling backward()
# caught-by: test_uses_autograd
import torch


def fit_line(x, y, lr=0.05, epochs=1000) -> tuple[float, float, list[float]]:
    xs = torch.tensor(x, dtype=torch.float32)
    ys = torch.tensor(y, dtype=torch.float32)
    a = torch.tensor(1.0)
    b = torch.tensor(1.0)
    losses = []
    for _ in range(epochs):
        error = a * xs + b - ys
        losses.append((error**2).mean().item())
        # MISTAKE: dL/da and dL/db written out by hand
        grad_a = 2 * (error * xs).mean()
        grad_b = 2 * error.mean()
        a = a - lr * grad_a
        b = b - lr * grad_b
    return a.item(), b.item(), losses
