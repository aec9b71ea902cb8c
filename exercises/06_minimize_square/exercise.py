"""Exercise 06: minimising a function by gradient descent.

Fill in the two functions below. Read README.md first, then check your
work with `grade 06`. Use autograd for every gradient.
"""

import torch  # noqa: F401  (you will need it)


def minimize_square(x0=3.0, lr=0.1, epochs=50) -> tuple[float, list[tuple[float, float]]]:
    """Run gradient descent on ``y = x ** 2`` starting from ``x0``.

    Return ``(x_final, history)`` as Python floats:
    ``history[k] == (x_k, y_k)`` is the point at the start of epoch ``k``,
    before its update, so ``len(history) == epochs``; ``x_final`` is ``x``
    after the last update.
    """
    # TODO: each epoch: compute y, record the point, clear the gradient,
    #       backward(), then update x under torch.no_grad().
    raise NotImplementedError


def gradient_descent(f, x0, lr, epochs) -> tuple[float, list[tuple[float, float]]]:
    """The same as minimize_square, for any differentiable scalar function ``f``.

    ``f`` takes a one-element tensor, for example ``lambda x: (x - 2) ** 2``.
    Return ``(x_final, history)`` with the same meaning as above.
    """
    # TODO
    raise NotImplementedError
