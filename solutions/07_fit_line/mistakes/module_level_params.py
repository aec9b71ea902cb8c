# mistake: creates a and b once at module level, so every call goes on training from where the previous call stopped
# caught-by: test_fit_line_tutorial_data
# hint: leaked_state
import torch

a = torch.tensor(1.0, requires_grad=True)  # MISTAKE: shared by every call
b = torch.tensor(1.0, requires_grad=True)


def fit_line(x, y, lr=0.05, epochs=1000) -> tuple[float, float, list[float]]:
    xs = torch.tensor(x, dtype=torch.float32)
    ys = torch.tensor(y, dtype=torch.float32)
    losses = []
    for _ in range(epochs):
        loss = ((a * xs + b - ys) ** 2).mean()
        losses.append(loss.item())
        for param in (a, b):
            if param.grad is not None:
                param.grad.zero_()
        loss.backward()
        with torch.no_grad():
            a.sub_(lr * a.grad)
            b.sub_(lr * b.grad)
    return a.item(), b.item(), losses
