# mistake: starts the descent from a float16 tensor, so each step rounds and the iterates drift from the float32 path
# caught-by: test_minimize_square_final
# hint: cause_low_precision_graph
import torch


def minimize_square(x0=3.0, lr=0.1, epochs=50) -> tuple[float, list[tuple[float, float]]]:
    x = torch.tensor([x0], dtype=torch.float16, requires_grad=True)  # MISTAKE: float16
    history = []
    for _ in range(epochs):
        y = x**2
        history.append((x.item(), y.item()))
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
