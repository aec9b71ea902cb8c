# mistake: records x.detach() in the history, believing detach() makes a copy; every entry shares x's memory and shows where x ended
# caught-by: test_minimize_square_history
# hint: cause_shared_storage
import torch


def minimize_square(x0=3.0, lr=0.1, epochs=50) -> tuple[float, list[tuple[float, float]]]:
    x = torch.tensor([x0], dtype=torch.float32, requires_grad=True)
    history = []
    for _ in range(epochs):
        y = x**2
        history.append((x.detach(), y.detach()))  # MISTAKE: x.detach() is not a copy
        if x.grad is not None:
            x.grad.zero_()
        y.backward()
        with torch.no_grad():
            x -= lr * x.grad
    return x.item(), history


def gradient_descent(f, x0, lr, epochs) -> tuple[float, list[tuple[float, float]]]:
    x = torch.tensor([x0], dtype=torch.float32, requires_grad=True)
    history = []
    for _ in range(epochs):
        y = f(x).sum()
        history.append((x.item(), y.item()))
        if x.grad is not None:
            x.grad.zero_()
        y.backward()
        with torch.no_grad():
            x -= lr * x.grad
    return x.item(), history
