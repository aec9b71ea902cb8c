"""Reference solution for exercise 06: minimising a function by gradient descent."""

import torch


def minimize_square(x0=3.0, lr=0.1, epochs=50) -> tuple[float, list[tuple[float, float]]]:
    """Gradient descent on ``y = x ** 2``; return ``(x_final, history)``."""
    x = torch.tensor([x0], dtype=torch.float32, requires_grad=True)
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
    """Gradient descent on any scalar function ``f`` of a one-element tensor."""
    x = torch.tensor([x0], dtype=torch.float32, requires_grad=True)
    history = []
    for _ in range(epochs):
        y = f(x).sum()  # .sum() turns a one-element result into a 0-dim scalar
        history.append((x.item(), y.item()))
        if x.grad is not None:
            x.grad.zero_()
        y.backward()
        with torch.no_grad():
            x -= lr * x.grad
    return x.item(), history
