"""Load a submission and answer the judge's requests, one JSON line at a time.

This runs in the untrusted child. It turns plain-data requests into calls of
the student's functions and turns whatever comes back into plain data: values,
dtype, shape, requires_grad, is_leaf, grad and grad_fn name. It never judges:
anything it reports may be forged by a hostile submission, so the trusted
judge only compares the data against its own expectations.

The requests and replies are ``grader.child.protocol``'s classes, one JSON
object per line; values in both directions are tagged as ``grader.child.wire``
defines, for both ends.
"""

from __future__ import annotations

import json
import linecache
import os
import sys
import traceback
import types
from typing import Any

from grader.child import operations, protocol, wire
from grader.child.evidence import GraphEvidence
from grader.child.protocol import Call, Chunk, ErrorKind, Hello, Load
from grader.child.wire import MAX_ELEMENTS, MAX_OPS, MAX_TEXT


class Evidence:
    """Count backward passes of the autograd engine while the student's code runs.

    A torch dispatch mode sees every aten operation, including those the
    engine runs for a backward formula; each carries the id of the engine's
    graph task. Whatever way the pass was reached (``x.backward()``,
    ``torch.autograd.grad`` under any name, ``torch.autograd.functional``, or
    ``torch.func.grad``/``vjp``/``jacrev``, which call the engine inside their
    transform), it shows up, so rebinding a Python name cannot hide it. (The
    saved-tensor hooks used before made ``torch.func`` refuse to run, and saw
    nothing of a linear graph, which saves no tensor.) Forward-mode AD
    (``torch.func.jvp``, ``jacfwd``) never runs the engine and counts 0.
    """

    def __init__(self, torch: Any) -> None:
        from torch.utils._python_dispatch import TorchDispatchMode

        self.torch = torch
        self.graph_tasks: set[int] = set()
        self.tripwire_backwards = 0
        current_task = torch._C._current_graph_task_id
        tasks = self.graph_tasks

        class _Watch(TorchDispatchMode):
            @classmethod
            def _should_skip_dynamo(cls) -> bool:
                # Else torch wraps __torch_dispatch__ in a dynamo guard whose first
                # call imports torch._dynamo: about 2 s of every child's first call.
                return False

            def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
                task = current_task()
                if task != -1:
                    tasks.add(task)
                return func(*args, **(kwargs or {}))

        self._mode = _Watch

    def watching(self) -> Any:
        """Return a context in which backward passes are counted."""
        return self._mode()

    def reset(self) -> None:
        self.graph_tasks.clear()
        self.tripwire_backwards = 0


class OpTrace:
    """Record which torch operations ran and whether grad mode was on for each."""

    def __init__(self, torch: Any) -> None:
        from torch.overrides import TorchFunctionMode

        torch_ = torch
        ops: list[list[Any]] = []

        class _Mode(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
                if len(ops) < MAX_OPS:
                    name = getattr(func, "__name__", None) or repr(func)
                    ops.append([str(name), bool(torch_.is_grad_enabled())])
                return func(*args, **(kwargs or {}))

        self.ops = ops
        self.mode = _Mode()


class Runtime:
    """Hold the loaded submission and answer requests about it."""

    def __init__(self) -> None:
        import torch

        self.torch = torch
        self.module: types.ModuleType | None = None
        self.filenames: set[str] = set()
        self.evidence = Evidence(torch)
        self._tripwire = self._make_tripwire()
        self.operations = operations.torch_callables({}, torch)

    # -- requests ---------------------------------------------------------
    def handle(self, data: Any) -> dict[str, Any]:
        try:
            request = protocol.read_request(data)
        except wire.Malformed as exc:
            return protocol.failed(protocol.error(ErrorKind.PROTOCOL, str(exc)))
        try:
            if isinstance(request, Hello):
                # Answered before any student code has run, so what it says can be believed.
                confine = sys.modules.get("grader.child.confine")
                sandbox = dict(confine.state) if confine else {"reason": "in-process"}
                return protocol.encode_reply(protocol.HelloReply(sandbox))
            if isinstance(request, Load):
                return protocol.encode_reply(self.load(request))
            return protocol.encode_reply(self.call(request))
        except BaseException as exc:  # the student's code may raise anything, even SystemExit
            if isinstance(exc, KeyboardInterrupt):
                raise
            return protocol.failed(self.describe(exc))

    def load(self, request: Load) -> protocol.LoadReply:
        chunks: tuple[Chunk, ...] = request.chunks
        # The exercise's own operations are built before any student code runs.
        self.operations = operations.torch_callables(request.operations, self.torch)
        module = types.ModuleType("exercise")
        module.__file__ = chunks[0].name if chunks else "exercise.py"
        if any(chunk.notebook for chunk in chunks):
            # A kernel's builtin, everywhere in notebooks: a correct notebook that shows a
            # value with it must not fail to load here with a NameError.
            module.__dict__["display"] = display
        sys.modules["exercise"] = module
        # Imported with grad mode on, as Python would: a file loaded before this one in
        # the same process (the in-process executor) cannot have left it off.
        grad_mode_before = self.torch.is_grad_enabled()
        self.torch.set_grad_enabled(True)
        for chunk in chunks:
            name, source = chunk.name, chunk.source
            self.filenames.add(name)
            # Register the source so tracebacks can quote the student's lines.
            linecache.cache[name] = (len(source), None, source.splitlines(True), name)
            try:
                code = compile(source, name, "exec", dont_inherit=True)
                with self.evidence.watching():
                    exec(code, module.__dict__)
            except BaseException as exc:
                if not chunk.ran_in_kernel or isinstance(exc, KeyboardInterrupt):
                    raise
                # A kernel shows the error under the cell and runs the next one: so do we,
                # or a mistake fixed two cells later would stop everything after it.
                sys.stdout.flush()
                sys.stderr.write(
                    f"{name} raised {type(exc).__name__} (the cells after it still ran, "
                    f"as in your kernel):\n{self.describe(exc)['traceback']}"
                )
                sys.stderr.flush()
        self.module = module
        functions = sorted(
            k
            for k, v in module.__dict__.items()
            if callable(v) and not k.startswith("__") and v is not display
        )
        # A file that turns grad mode off when imported (torch.set_grad_enabled(False)
        # at the top level, a context object made once): told, since every call resets it.
        grad_enabled = self.torch.is_grad_enabled()
        self.torch.set_grad_enabled(grad_mode_before)
        return protocol.LoadReply(True, functions, grad_enabled)

    def call(self, request: Call) -> protocol.CallReply:
        torch = self.torch
        if self.module is None:
            return protocol.CallReply(
                False, error=protocol.error(ErrorKind.PROTOCOL, "nothing loaded")
            )
        name = request.function
        func = getattr(self.module, name, None)
        if func is None or not callable(func):
            return protocol.CallReply(
                False,
                error=protocol.error(
                    ErrorKind.MISSING_FUNCTION, f"no function named {name}", function=name
                ),
            )
        # Built with grad on, whatever mode the submission left on: a non-leaf argument
        # made under a module-level set_grad_enabled(False) would come out a leaf.
        with torch.enable_grad():
            args = [self.decode(a) for a in request.args]
            kwargs = {k: self.decode(v) for k, v in request.kwargs.items()}
        arg_ids = [id(a) for a in args]
        # ids of the .grad of tensor arguments, to tell an in-place update from a new tensor.
        grad_ids = [
            id(a.grad) if isinstance(a, torch.Tensor) and a.grad is not None else None for a in args
        ]
        # Version counters before the call: an in-place change of the caller's tensor
        # (or of its .grad) shows as a higher count afterwards.
        versions = [self.versions(a) for a in args]
        self.evidence.reset()
        trace = OpTrace(torch) if request.trace else None
        graph = GraphEvidence(torch) if request.evidence else None
        grad_mode_before = torch.is_grad_enabled()
        torch.set_grad_enabled(request.grad_enabled)
        reply = protocol.CallReply(True)
        try:
            with self.evidence.watching():
                if trace is not None:
                    with trace.mode:
                        value = func(*args, **kwargs)
                elif graph is not None:
                    with graph.mode:
                        value = func(*args, **kwargs)
                else:
                    value = func(*args, **kwargs)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            reply = protocol.CallReply(False, error=self.describe(exc))
            value = None
        reply.grad_enabled_after = torch.is_grad_enabled()
        # A submission that leaves grad mode off must not poison the next call.
        torch.set_grad_enabled(grad_mode_before)
        reply.backward_passes = len(self.evidence.graph_tasks)
        reply.tripwire_backwards = self.evidence.tripwire_backwards
        if trace is not None:
            reply.ops = [(name, grad) for name, grad in trace.ops]
        if graph is not None:
            reply.graph = graph.report()
        try:
            if reply.ok:
                reply.value = self.encode(value)
                reply.then = [self.follow_up(step, value) for step in request.then]
            reply.args = [self.encode(a) for a in args]
        except Exception as exc:
            # The function returned; what it returned (or left in an argument) has no
            # numbers to read: a sparse or a meta tensor, a list whose own __getitem__
            # raises. Said as such, not as the student's function raising at "line ?".
            reply.value, reply.then, reply.ok = None, [], False
            reply.error = protocol.error(
                ErrorKind.UNREADABLE, _safe_str(exc)[:MAX_TEXT], type=type(exc).__name__
            )
        reply.arg_ids = arg_ids
        reply.arg_grad_ids = grad_ids
        reply.arg_versions = versions
        return reply

    def versions(self, value: Any) -> list[int] | None:
        """Return a tensor argument's version counter and its .grad's (-1: none)."""
        base: Any = self.torch._C.TensorBase
        if not isinstance(value, self.torch.Tensor):
            return None
        grad = base.grad.__get__(value) if base.is_leaf.__get__(value) else None
        return [_version(base, value), _version(base, grad) if grad is not None else -1]

    def follow_up(self, step: dict[str, Any], value: Any) -> dict[str, Any]:
        """Run a judge-requested step on the returned value (e.g. backward on part of it)."""
        try:
            if "backward" in step:
                target = value
                for index in step["backward"]:
                    target = target[index]
                # The base class's backward: a returned subclass cannot fake the pass.
                with self.torch._C.DisableTorchFunction():
                    self.torch.Tensor.backward(target)
                return protocol.step_outcome()
            return protocol.step_outcome(protocol.error(ErrorKind.PROTOCOL, "unknown step"))
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            return protocol.step_outcome(self.describe(exc))

    # -- data in and out --------------------------------------------------
    def decode(self, spec: Any) -> Any:
        """Build the value an argument of the judge's describes."""
        return wire.read_argument(spec, self.build_tensor, self.build_function)

    def build_tensor(self, t: dict[str, Any]) -> Any:
        torch = self.torch
        tensor = torch.tensor(t["data"], dtype=getattr(torch, t.get("dtype", "float32")))
        if t.get("requires_grad"):
            tensor.requires_grad_(True)
        if t.get("grad") is not None:
            tensor.grad = torch.tensor(t["grad"], dtype=tensor.dtype)
        for step in t.get("ops", []):
            # Derived tensors (non-leaves, detached copies) for checks about the graph.
            # Any one-operand operation of the table works too (an exercise's own included).
            derive = _TENSOR_STEPS.get(step) or self.operations[step]
            tensor = derive(tensor)
        return tensor

    def encode(self, value: Any) -> Any:
        """Describe a returned value as plain data."""
        return wire.write(value, self._tensor_or_none)

    def _tensor_or_none(self, value: Any) -> dict[str, Any] | None:
        return self.describe_tensor(value) if isinstance(value, self.torch.Tensor) else None

    def describe_tensor(self, t: Any, with_grad: bool = True) -> dict[str, Any]:
        torch = self.torch
        # Read through the C base class with torch-function overrides off, so a
        # Tensor subclass cannot dress up its data or its autograd metadata.
        base = torch._C.TensorBase
        with torch._C.DisableTorchFunction():
            plain = base.detach(t)
            flat = base.reshape(plain, (-1,))[:MAX_ELEMENTS]
            if base.is_complex(flat):
                flat = flat.real
            grad_fn = base.grad_fn.__get__(t)
            is_leaf = bool(base.is_leaf.__get__(t))
            info: dict[str, Any] = {
                "data": base.tolist(flat),
                "shape": list(base.size(plain)),
                "numel": int(base.numel(plain)),
                "dtype": str(plain.dtype).replace("torch.", ""),
                "requires_grad": bool(base.requires_grad.__get__(t)),
                "is_leaf": is_leaf,
                "grad_fn": type(grad_fn).__name__ if grad_fn is not None else None,
                "type": type(t).__qualname__,
                "id": id(t),
                # Where the numbers live: two tensors sharing it are one gradient, twice.
                "storage": int(base.untyped_storage(plain).data_ptr()),
            }
            # How often those numbers were changed in place (shared by views), and whether
            # the tensor was made under inference_mode (autograd refuses it); sent only
            # when not the usual 0 and False, to keep replies small.
            version = _version(base, t)
            if version:
                info["version"] = version
            if base.is_inference(t):
                info["inference"] = True
            grad = base.grad.__get__(t) if with_grad and is_leaf else None
        if with_grad:
            info["grad"] = self.describe_tensor(grad, with_grad=False) if grad is not None else None
        return info

    # -- unseen test functions -------------------------------------------
    def _make_tripwire(self) -> Any:
        torch = self.torch
        evidence = self.evidence

        class Tripwire(torch.autograd.Function):  # type: ignore[name-defined]
            """Identity whose gradient can only flow through autograd.

            Written with ``setup_context`` (and ``vmap``/``jvp`` rules) so that
            torch.func's transforms accept it: ``grad``, ``vjp``, ``jacrev``
            and ``jacfwd`` of an unseen function are autograd too.
            """

            generate_vmap_rule = True

            @staticmethod
            def forward(x: Any) -> Any:
                return x.view_as(x)

            @staticmethod
            def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
                pass

            @staticmethod
            def backward(ctx: Any, grad: Any) -> Any:
                evidence.tripwire_backwards += 1
                return grad

            @staticmethod
            def jvp(ctx: Any, tangent: Any) -> Any:
                # Forward-mode AD (torch.func.jvp, jacfwd) pushes a tangent through f.
                evidence.tripwire_backwards += 1
                return tangent

        return Tripwire.apply

    def build_function(self, spec: dict[str, Any]) -> Any:
        torch = self.torch
        tripwire = self._tripwire
        kind = spec.get("kind", "expr")
        if kind == "grad_mode":
            # Report the grad mode it was called in, and echo what it was given.
            def probe(*args: Any, **kwargs: Any) -> Any:
                return {
                    "grad_enabled": torch.is_grad_enabled(),
                    "args": list(args),
                    "kwargs": kwargs,
                }

            return probe
        if kind == "raises":
            message = spec.get("message", "raised on purpose by the check")

            def raiser(*args: Any, **kwargs: Any) -> Any:
                raise ValueError(message)

            return raiser
        tree = spec["expr"]

        def evaluate(node: Any, inputs: tuple[Any, ...]) -> Any:
            if isinstance(node, (int, float)):
                return node
            if "var" in node:
                return tripwire(inputs[node["var"]])
            op, operands = node["op"], [evaluate(n, inputs) for n in node["args"]]
            return self.operations[op](*operands)

        def unseen(*inputs: Any) -> Any:
            return evaluate(tree, inputs)

        unseen.__name__ = spec.get("name", "f")
        return unseen

    # -- errors -----------------------------------------------------------
    def describe(self, exc: BaseException) -> dict[str, Any]:
        """Describe an exception with the submission's own frames only."""
        info = protocol.error(
            ErrorKind.EXCEPTION, _safe_str(exc)[:MAX_TEXT], type=type(exc).__name__
        )
        if isinstance(exc, SyntaxError):
            info.update(
                kind=ErrorKind.SYNTAX.value,
                line=exc.lineno,
                file=exc.filename,
                text=(exc.text or "").rstrip()[:MAX_TEXT],
                message=str(exc.msg),
            )
        elif isinstance(exc, SystemExit):
            info.update(kind=ErrorKind.EXIT.value, message=f"sys.exit({exc.code!r})"[:MAX_TEXT])
        elif isinstance(exc, MemoryError) or (
            isinstance(exc, RuntimeError) and "can't allocate memory" in info["message"]
        ):
            info["kind"] = ErrorKind.MEMORY.value
        frames = [
            f for f in traceback.extract_tb(exc.__traceback__) if f.filename in self.filenames
        ]
        if frames:
            info["line"] = frames[-1].lineno
            info["file"] = frames[-1].filename
        lines = traceback.format_list(frames)
        lines += traceback.format_exception_only(type(exc), exc)
        info["traceback"] = "".join(lines)[-8 * MAX_TEXT :]
        return info


_TENSOR_STEPS = {
    "square": lambda x: x**2,
    "sum": lambda x: x.sum(),
    "mean": lambda x: x.mean(),
    "detach": lambda x: x.detach(),
    "double": lambda x: x * 2,
}


def _version(base: Any, t: Any) -> int:
    # An inference tensor keeps no version counter (reading it raises), nor may an
    # exotic one: evidence is optional, the answer's numbers are not.
    try:
        return -1 if base.is_inference(t) else int(base._version.__get__(t))
    except (RuntimeError, TypeError, NotImplementedError):
        return -1


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except BaseException:
        return f"<{type(exc).__name__} whose str() failed>"


def serve(proto_in: Any, proto_out: Any, runtime: Runtime) -> None:
    """Answer requests until the judge closes the protocol input."""
    for line in proto_in:
        reply = runtime.handle(json.loads(line))
        try:
            data = json.dumps(reply)
        except (TypeError, ValueError) as exc:
            data = json.dumps(protocol.failed(protocol.error(ErrorKind.PROTOCOL, str(exc))))
        past = wire.too_large(data)
        if past:
            # An honest answer too big to send is the student's to shrink, said so; the
            # judge would take the line itself for an attack and end the child.
            data = json.dumps(protocol.failed(protocol.error(ErrorKind.TOO_LARGE, past)))
        proto_out.write(data.encode("utf-8") + b"\n")
        proto_out.flush()


def display(*objs: Any, **_options: Any) -> None:
    """Jupyter's ``display`` for cells run outside a kernel: each object's text, printed."""
    for obj in objs:
        print(repr(obj))


def take_protocol_fds() -> tuple[Any, Any]:
    """Move the protocol off stdin/stdout so the student's prints cannot corrupt it."""
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # no stdin: input() gets EOF at once instead of hanging
    os.close(devnull)
    os.dup2(2, 1)  # print() lands in the captured output stream
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = open(
        1,
        "w",
        encoding="utf-8",
        errors="replace",
        closefd=False,  # noqa: SIM115
        buffering=1,
    )
    sys.stderr = open(
        2,
        "w",
        encoding="utf-8",
        errors="replace",
        closefd=False,  # noqa: SIM115
        buffering=1,
    )
    return proto_in, proto_out


def main(argv: list[str]) -> None:
    """Enter the sandbox, import torch, then serve the judge."""
    from grader.child import confine

    config = json.loads(argv[1]) if len(argv) > 1 else {}
    proto_in, proto_out = take_protocol_fds()
    confine.enter(config)
    runtime = Runtime()
    confine.lock(config)
    serve(proto_in, proto_out, runtime)
    # Done: end as the zygote's children do. Tearing a torch interpreter down takes
    # longer than the judge waits for an exit (it then kills), on every grade.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
