# mistake: turns x into a column of shape (N, 1) and keeps y a vector of shape (N,), so the error broadcasts into an (N, N) matrix and the loss is another one
# caught-by: test_fit_line_tutorial_data
# hint: cause_broadcast
import torch


def fit_line(x, y, lr=0.05, epochs=1000) -> tuple[float, float, list[float]]:
    xs = torch.tensor(x, dtype=torch.float32).view(-1, 1)  # MISTAKE: a column
    ys = torch.tensor(y, dtype=torch.float32)  # ... against a vector
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
            b -= lr * b.grad
    return a.item(), b.item(), losses
