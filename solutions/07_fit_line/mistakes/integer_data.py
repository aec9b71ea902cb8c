# mistake: builds the data tensors with dtype=torch.long, which truncates every x and y with a fraction (the tutorial's whole numbers hide it)
# caught-by: test_fit_line_random_data
# hint: cause_integer_cast
import torch


def fit_line(x, y, lr=0.05, epochs=1000) -> tuple[float, float, list[float]]:
    xs = torch.tensor(x, dtype=torch.long)  # MISTAKE: integers, not floats
    ys = torch.tensor(y, dtype=torch.long)
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
