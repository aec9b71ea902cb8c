# mistake: records the loss after the update (recomputed with the new a and b) instead of the loss at the start of the epoch
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
        for param in (a, b):
            if param.grad is not None:
                param.grad.zero_()
        loss.backward()
        with torch.no_grad():
            a -= lr * a.grad
            b -= lr * b.grad
            # MISTAKE: this is already the next epoch's starting loss
            losses.append(((a * xs + b - ys) ** 2).mean().item())
    return a.item(), b.item(), losses
