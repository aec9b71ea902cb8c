"""Record what a call's computation looked like, for the judge to name why a value is wrong.

Runs in the untrusted child, only when the judge asks (``"evidence": true`` in
a ``call`` request): a check has found a wrong value and replays the call to
learn its cause. A correct submission never pays for it. A torch function mode
sees every torch operation the student's code runs and keeps three things,
each bounded so that a reply stays small:

- the dtypes the operations produced (a bfloat16 parameter, an integer tensor);
- element-wise operations between two tensors whose shapes differ so that both
  are stretched (a prediction of shape (N, 1) against a target of shape (N,)
  gives an (N, N) matrix, whose mean is a different loss);
- casts of a floating-point tensor to an integer dtype, and integer tensors
  meeting floating-point ones in element-wise operations (the fractions were
  lost when the integer tensor was made).

Like every reply of the child, this is a claim, never a verdict: the judge
uses it only to choose the words of a hint for a value it already found wrong.
"""

from __future__ import annotations

from typing import Any

__all__ = ["GraphEvidence", "MAX_BROADCASTS"]

MAX_BROADCASTS = 3
_MAX_DIMS = 8
_MAX_DTYPES = 16

# Element-wise operations of two operands (and losses that compare them element by
# element): a broadcast there changes what is computed. matmul, cat, stack... are not.
_ELEMENTWISE = frozenset(
    {
        *(f"{op}{tail}" for op in ("add", "sub", "mul", "div", "pow") for tail in ("", "_")),
        *(f"__{side}{op}__" for op in ("add", "sub", "mul", "truediv", "pow") for side in "ri"),
        *(f"__{op}__" for op in ("add", "sub", "mul", "truediv", "pow")),
        "rsub",
        "subtract",
        "multiply",
        "divide",
        "true_divide",
        "maximum",
        "minimum",
        "mse_loss",
        "l1_loss",
        "smooth_l1_loss",
        "huber_loss",
        "binary_cross_entropy",
        "binary_cross_entropy_with_logits",
    }
)
_CASTS = frozenset({"to", "type", "long", "int", "short", "char", "byte"})


class GraphEvidence:
    """A torch function mode that records dtypes, stretching broadcasts and integer casts."""

    def __init__(self, torch: Any) -> None:
        from torch.overrides import TorchFunctionMode

        tensor_type = torch.Tensor
        dtypes: set[str] = set()
        broadcasts: list[list[Any]] = []
        casts = [0]

        def stretched(name: str, args: tuple[Any, ...]) -> None:
            operands = [a for a in args if isinstance(a, tensor_type)]
            if len(operands) != 2:
                return
            floating = [t.is_floating_point() for t in operands]
            if floating[0] != floating[1] and all(
                t.is_floating_point()
                or (t.numel() > 1 and not t.is_complex() and t.dtype != torch.bool)
                for t in operands
            ):
                # Integer data in floating-point arithmetic (a count, 0-dim, is fine).
                casts[0] += 1
            if len(broadcasts) >= MAX_BROADCASTS:
                return
            a, b = (tuple(t.shape) for t in operands)
            if a == b or _numel(a) <= 1 or _numel(b) <= 1:
                return  # same shapes, or a scalar: the broadcast every course uses
            try:
                out = tuple(torch.broadcast_shapes(a, b))
            except RuntimeError:
                return  # torch raises its own error for these
            if _numel(out) > max(_numel(a), _numel(b)):
                broadcasts.append([name, list(a[:_MAX_DIMS]), list(b[:_MAX_DIMS])])

        class _Mode(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
                name = str(getattr(func, "__name__", ""))
                if name in _ELEMENTWISE:
                    stretched(name, args)
                out = func(*args, **(kwargs or {}))
                if isinstance(out, tensor_type):
                    if len(dtypes) < _MAX_DTYPES:
                        dtypes.add(str(out.dtype).replace("torch.", ""))
                    first = args[0] if args else None
                    if (
                        name in _CASTS
                        and isinstance(first, tensor_type)
                        and first.is_floating_point()
                        and not (out.is_floating_point() or out.is_complex())
                        and out.dtype != torch.bool
                    ):
                        casts[0] += 1
                return out

        self.mode = _Mode()
        self._dtypes = dtypes
        self._broadcasts = broadcasts
        self._casts = casts

    def report(self) -> dict[str, Any]:
        """Return what was seen, as plain data for the reply."""
        return {
            "dtypes": sorted(self._dtypes),
            "broadcasts": list(self._broadcasts),
            "integer_casts": self._casts[0],
        }


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n
