# mistake: updates only a and forgets b, so the fit follows a different path (on the tutorial data it even ends near a = 2, b = 1 because b starts at the true value)
# caught-by: test_fit_line_losses
import torch


def fit_line(x, y, lr=0.05, epochs=1000) -> tuple[float, float, list[float]]:
    xs = torch.tensor(x, dtype=torch.float32)
    ys = torch.tensor(y, dtype=torch.float32)
    a = torch.tensor(1.0, requires_grad=True)
    b = torch.tensor(1.0, requires_grad=True)
    losses = []
    for _ in range(epochs):
        loss = ((a * xs + b - ys) ** 2).mean()
        losses.append(loss.item())
        for param in (a, b):
            if param.grad is not None:
                param.grad.zero_()
        loss.backward()
        with torch.no_grad():
            a -= lr * a.grad
            # MISTAKE: b -= lr * b.grad is missing
    return a.item(), b.item(), losses
