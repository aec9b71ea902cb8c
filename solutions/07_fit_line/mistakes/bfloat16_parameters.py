# mistake: keeps the data and the parameters in bfloat16 to save memory, so every step rounds to 2-3 significant digits and the fit drifts
# caught-by: test_fit_line_tutorial_data
# hint: cause_low_precision_graph
import torch


def fit_line(x, y, lr=0.05, epochs=1000) -> tuple[float, float, list[float]]:
    xs = torch.tensor(x, dtype=torch.bfloat16)  # MISTAKE: bfloat16, not float32
    ys = torch.tensor(y, dtype=torch.bfloat16)
    a = torch.tensor(1.0, dtype=torch.bfloat16, requires_grad=True)
    b = torch.tensor(1.0, dtype=torch.bfloat16, requires_grad=True)
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
