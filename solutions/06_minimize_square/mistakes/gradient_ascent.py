# mistake: adds the gradient (x += lr * x.grad), climbing the function: gradient ascent
# caught-by: test_gradient_descent_any_function
# hint: shape_opposite_sign
import torch


def minimize_square(x0=3.0, lr=0.1, epochs=50) -> tuple[float, list[tuple[float, float]]]:
    return gradient_descent(lambda x: x**2, x0, lr, epochs)


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
            x += lr * x.grad  # MISTAKE: + climbs; descent subtracts
    return x.item(), history
