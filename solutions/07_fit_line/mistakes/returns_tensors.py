# mistake: returns the parameter tensors a and b and the loss tensors instead of Python floats
# caught-by: test_returns_floats
import torch


def fit_line(x, y, lr=0.05, epochs=1000) -> tuple[float, float, list[float]]:
    xs = torch.tensor(x, dtype=torch.float32)
    ys = torch.tensor(y, dtype=torch.float32)
    a = torch.tensor([1.0], requires_grad=True)
    b = torch.tensor([1.0], requires_grad=True)
    losses = []
    for _ in range(epochs):
        loss = ((a * xs + b - ys) ** 2).mean()
        losses.append(loss)  # MISTAKE: a tensor (that also keeps its graph alive)
        for param in (a, b):
            if param.grad is not None:
                param.grad.zero_()
        loss.backward()
        with torch.no_grad():
            a -= lr * a.grad
            b -= lr * b.grad
    return a, b, losses  # MISTAKE: tensors, not .item()
