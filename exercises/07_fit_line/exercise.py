"""Exercise 07: fitting a line by gradient descent.

Fill in the function below. Read README.md first, then check your work with
`grade 07`. Use autograd for the gradients.
"""

import torch  # noqa: F401  (you will need it)


def fit_line(x, y, lr=0.05, epochs=1000) -> tuple[float, float, list[float]]:
    """Fit ``y ≈ a * x + b`` by gradient descent on the mean squared error.

    ``x`` and ``y`` are lists of floats of the same length. ``a`` and ``b``
    both start at 1.0. Return ``(a, b, losses)`` as Python floats, where
    ``losses[k]`` is the loss at the start of epoch ``k`` (before its update)
    and ``len(losses) == epochs``.
    """
    # TODO: each epoch: compute the loss, record it, clear both gradients,
    #       backward(), then update a and b under torch.no_grad().
    raise NotImplementedError
