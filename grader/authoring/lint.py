"""Read a course without running it: what ``grade verify`` finds before it grades anything.

Grading only shows a misspelled hint id when some submission reaches it, and
a ``{placeholder}`` no check fills when a student reads it. Reading the
checks' source (``ast``) and the catalogs finds these at once, for every
branch: every hint id a check can give exists in each catalog language;
every placeholder of such a hint is a parameter the check passes; no
catalog holds a key nothing uses; every TOML file parses; one exercise per
number; every operation a check's functions use is defined; no placeholder
of ``grade new`` is left; the course's rules (``grader.course.rules``) read
right. Each problem is one line naming the file.
"""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib

from grader.child.operations import BUILTIN, OperationError, parse_table
from grader.course.find import Course, Exercise
from grader.course.rules import rules_problems

__all__ = ["PLACEHOLDER", "lint"]

# What `grade new` writes where the author has work to do; verify refuses it.
PLACEHOLDER = "TODO(grade new)"

# Tables an exercise's catalog may hold; patterns only in English (torch speaks it).
_TABLES = {"hints", "titles", "plots", "patterns", "words"}
# Derivations `tensor(ops=[...])` knows besides the one-operand operations.
_TENSOR_OPS = {"sum", "mean", "detach", "double"}
# What the grader itself fills for a hint named through `returned({...})`.
_ERROR_PARAMS = {"function", "line", "type", "message"}
# Calls that give a hint: the position of the hint id, and the parameters they add.
_GIVERS: dict[str, tuple[int, set[str]]] = {
    "fail": (0, set()),
    "CheckFailed": (0, set()),
    "hint": (0, {"assertion"}),
    "expect": (1, set()),
    "expect_close": (2, {"got", "want"}),
    "expect_close_together": (1, {"got", "want", "what"}),
}


@dataclass(frozen=True)
class _Use:
    """A place in a check that can give a hint, and the parameters it passes (None: unknown)."""

    hint: str
    params: frozenset[str] | None
    file: str
    line: int


def lint(course: Course, exercises: Sequence[Exercise] | None = None) -> list[str]:
    """Return the problems found by reading ``course`` (its ``exercises``, default all)."""
    root = course.root
    problems = _toml_problems(root)
    if problems:
        return problems  # nothing else reads right until the files parse
    problems += _number_problems(course)
    problems += rules_problems(course)
    languages = sorted(p.name for p in (root / "templates" / "locale").glob("*") if p.is_dir())
    catalogs = {lang: _catalogs(root, lang, problems) for lang in languages}
    problems += _shared_catalog_problems(root, catalogs)
    known = {e.name for e in course.exercises}
    for lang in languages:
        for path in sorted((root / "templates" / "locale" / lang).glob("[0-9]*_*.toml")):
            if path.stem not in known:
                problems.append(f"{_shown(root, path)}: a catalog for no exercise ({path.stem})")
    for exercise in course.exercises if exercises is None else exercises:
        problems += _exercise_problems(course, exercise, catalogs)
    return problems


def _shown(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _toml_files(root: Path) -> Iterator[Path]:
    yield root / "course.toml"
    yield from sorted((root / "templates" / "locale").glob("*/*.toml"))
    yield from sorted((root / "checks").glob("*/*.toml"))


def _toml_problems(root: Path) -> list[str]:
    problems = []
    for path in _toml_files(root):
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{_shown(root, path)}: cannot be read: {exc}")
        except tomllib.TOMLDecodeError as exc:
            # tomllib's message ends "(at line L, column C)".
            problems.append(f"{_shown(root, path)}: not valid TOML: {exc}")
    return problems


def _number_problems(course: Course) -> list[str]:
    by_number: dict[int, list[str]] = {}
    for path in sorted((course.root / "exercises").glob("*")):
        match = re.match(r"^(\d+)_", path.name)
        if path.is_dir() and match:
            by_number.setdefault(int(match.group(1)), []).append(path.name)
    return [
        f"exercises/{names[0]}: exercises {', '.join(names)} share the number "
        f"{names[0].split('_', 1)[0]} (grade {names[0].split('_', 1)[0]} cannot tell them "
        "apart): give each exercise its own number"
        for names in by_number.values()
        if len(names) > 1
    ]


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    with path.open("rb") as f:
        return tomllib.load(f)


def _catalogs(root: Path, lang: str, problems: list[str]) -> dict[str, dict[str, Any]]:
    folder = root / "templates" / "locale" / lang
    catalogs = {}
    for path in sorted(folder.glob("*.toml")):
        catalog = _load(path)
        for table in sorted(_TABLES & set(catalog)):
            # `hints = "..."` instead of a [hints] table: nothing in it could be found.
            if not isinstance(catalog[table], dict):
                problems.append(f"{_shown(root, path)}: {table} must be a [{table}] table")
                catalog[table] = {}
        catalogs[path.stem] = catalog
    return catalogs


def _flat(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _placeholders(text: Any) -> set[str]:
    if not isinstance(text, str):
        return set()
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name]
    except ValueError:
        return {"<unbalanced braces>"}
    return {re.split(r"[.\[]", name, maxsplit=1)[0] for name in fields}


def _shared_catalog_problems(
    root: Path, catalogs: dict[str, dict[str, dict[str, Any]]]
) -> list[str]:
    """Compare every language's shared catalogs (ui, common, torch_errors) with English."""
    problems = []
    english = catalogs.get("en", {})
    for lang, tables in catalogs.items():
        if lang == "en":
            continue
        for stem, table in tables.items():
            if re.match(r"^\d+_", stem):
                continue
            path = f"templates/locale/{lang}/{stem}.toml"
            if stem == "course":
                # The course's title in this language, beside the English it translates.
                problems += [
                    f"{path}: {key} must be a text"
                    for key in ("english", "title")
                    if not isinstance(table.get(key), str)
                ]
                continue
            theirs = _flat(english.get(stem, {}))
            for key, text in _flat(table).items():
                if key.startswith("words."):
                    continue  # keyed by the English itself, which needs no entry
                if key not in theirs:
                    problems.append(f"{path}: {key} is no key of templates/locale/en/{stem}.toml")
                elif extra := sorted(_placeholders(text) - _placeholders(theirs[key])):
                    problems.append(
                        f"{path}: {key} uses {{{extra[0]}}}, which the English text never fills"
                    )
    return problems


# -- reading the checks ------------------------------------------------------------------
def _called(node: ast.Call) -> str:
    func = node.func
    return (
        func.id
        if isinstance(func, ast.Name)
        else func.attr
        if isinstance(func, ast.Attribute)
        else ""
    )


class _Module:
    """One check file's syntax tree, with its module-level constants for resolving names."""

    def __init__(self, path: Path, tree: ast.Module) -> None:
        self.path = path
        self.tree = tree
        self.constants: dict[str, ast.expr] = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    self.constants[target.id] = node.value
        self.parents: dict[ast.AST, ast.AST] = {
            child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)
        }

    def resolve(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.Name) and node.id in self.constants:
            return self.constants[node.id]
        return node

    def strings(self, node: ast.expr) -> list[str] | None:
        """The hint ids an id argument can be: a constant, a module constant, a loop over one."""
        node = self.resolve(node)
        if isinstance(node, ast.Constant):
            return [node.value] if isinstance(node.value, str) else None
        if isinstance(node, ast.Name):
            return self._loop_values(node)
        return None

    def _loop_values(self, name: ast.Name) -> list[str] | None:
        # `for hint, variant in _VARIANTS: ... fail(hint, ...)`: the loop's constants.
        at: ast.AST | None = name
        while at is not None:
            at = self.parents.get(at)
            if isinstance(at, ast.For):
                target, items = at.target, self.resolve(at.iter)
                if not isinstance(items, (ast.Tuple, ast.List)):
                    continue
                if isinstance(target, ast.Name) and target.id == name.id:
                    index = None
                elif isinstance(target, ast.Tuple) and any(
                    isinstance(t, ast.Name) and t.id == name.id for t in target.elts
                ):
                    index = next(
                        i
                        for i, t in enumerate(target.elts)
                        if isinstance(t, ast.Name) and t.id == name.id
                    )
                else:
                    continue
                found = []
                for item in items.elts:
                    if index is not None:
                        if not isinstance(item, ast.Tuple) or len(item.elts) <= index:
                            return None
                        item = item.elts[index]
                    if not (isinstance(item, ast.Constant) and isinstance(item.value, str)):
                        return None
                    found.append(item.value)
                return found
        return None

    def function_of(self, node: ast.AST) -> ast.FunctionDef | None:
        at: ast.AST | None = node
        while at is not None:
            at = self.parents.get(at)
            if isinstance(at, ast.FunctionDef):
                return at
        return None

    def spread_keys(self, call: ast.Call, name: ast.expr) -> set[str] | None:
        """The keys of ``**name`` when a dict literal in its function (or module) binds it."""
        if isinstance(name, ast.Dict):
            return _dict_keys(name)
        if not isinstance(name, ast.Name):
            return None
        scope: ast.AST = self.function_of(call) or self.tree
        for node in ast.walk(scope):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == name.id
            ):
                return _dict_keys(node.value)
        if name.id in self.constants:
            return _dict_keys(self.constants[name.id])
        return None


def _dict_keys(node: ast.expr) -> set[str] | None:
    if isinstance(node, ast.Dict):
        keys: set[str] = set()
        for key in node.keys:
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                return None
            keys.add(key.value)
        return keys
    if isinstance(node, ast.Call) and _called(node) == "dict" and not node.args:
        return {k.arg for k in node.keywords if k.arg is not None} | set()
    return None


def _modules(root: Path, exercise: Exercise, problems: list[str]) -> list[_Module]:
    modules = []
    for path in sorted(exercise.checks.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (SyntaxError, ValueError, OSError) as exc:
            line = getattr(exc, "lineno", None)
            problems.append(
                f"{_shown(root, path)}{f':{line}' if line else ''}: cannot be read: {exc}"
            )
            continue
        modules.append(_Module(path, tree))
    return modules


def _uses(root: Path, module: _Module) -> Iterator[_Use]:
    """Every hint a check file can give, with the parameters passed at that place."""
    shown = _shown(root, module.path)
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Call):
            continue
        called = _called(node)
        if called in _GIVERS:
            position, added = _GIVERS[called]
            given = node.args[position] if len(node.args) > position else None
            given = next((k.value for k in node.keywords if k.arg == "hint"), given)
            ids = module.strings(given) if given is not None else None
            params: set[str] | None = {k.arg for k in node.keywords if k.arg} | added
            for keyword in node.keywords:
                if keyword.arg is None:
                    keys = module.spread_keys(node, keyword.value)
                    params = None if keys is None or params is None else params | keys
            for hint_id in ids or []:
                frozen = frozenset(params) if params is not None else None
                yield _Use(hint_id, frozen, shown, node.lineno)
        if called == "expect_autograd":
            # The helper's own verdicts: each needs a sentence in this exercise's catalogs.
            through = len(node.args) > 3 or any(k.arg == "through" for k in node.keywords)
            for hint_id in ("uses_autograd", "no_backward", *["no_backward_through_f"] * through):
                yield _Use(hint_id, frozenset({"function", "f"}), shown, node.lineno)
        # `result.returned({...})`, `expect_autograd(..., instead={...})`: torch errors
        # mapped to hints, filled by the grader's own parameters.
        mapped = [*node.args[:1]] if called == "returned" else []
        mapped += [k.value for k in node.keywords if k.arg == "instead"]
        for value in mapped:
            table = module.resolve(value)
            if isinstance(table, ast.Dict):
                for item in table.values:
                    if isinstance(item, ast.Constant) and isinstance(item.value, str):
                        yield _Use(item.value, frozenset(_ERROR_PARAMS), shown, node.lineno)


def _operations(root: Path, module: _Module) -> Iterator[tuple[str, str, int, bool]]:
    """(operation, file, line, in tensor ops) for every operation a check file names."""
    shown = _shown(root, module.path)
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "op"
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                ):
                    yield value.value, shown, node.lineno, False
        if isinstance(node, ast.Call) and _called(node) == "tensor":
            for keyword in node.keywords:
                if keyword.arg == "ops" and isinstance(keyword.value, (ast.List, ast.Tuple)):
                    for item in keyword.value.elts:
                        if isinstance(item, ast.Constant) and isinstance(item.value, str):
                            yield item.value, shown, node.lineno, True


def _check_names(modules: Iterable[_Module]) -> set[str]:
    return {
        node.name
        for module in modules
        for node in module.tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test")
    }


# -- one exercise -------------------------------------------------------------------------
def _exercise_problems(
    course: Course, exercise: Exercise, catalogs: dict[str, dict[str, dict[str, Any]]]
) -> list[str]:
    root, name = course.root, exercise.name
    problems: list[str] = []
    modules = _modules(root, exercise, problems)
    problems += _placeholder_left(root, exercise)
    problems += _operation_problems(root, exercise, modules)
    english = catalogs.get("en", {})
    own_en = english.get(name, {})
    en_hints = {
        **english.get("common", {}).get("hints", {}),
        **english.get("torch_errors", {}).get("hints", {}),
        **own_en.get("hints", {}),
    }
    checks = _check_names(modules)
    for lang, tables in catalogs.items():
        own = tables.get(name)
        path = f"templates/locale/{lang}/{name}.toml"
        if own is None:
            if lang == "en":
                problems.append(f"{path}: missing (the English hints of {name})")
            continue
        problems += _catalog_key_problems(path, lang, own, own_en, en_hints, checks, english)
    uses = sorted(
        (use for module in modules for use in _uses(root, module)), key=lambda u: (u.file, u.line)
    )
    for use in uses:
        absent = []
        for lang, tables in catalogs.items():
            if lang != "en" and name not in tables:
                continue  # no translation of this exercise: English shows, whole
            text = _hint_text(tables, name, use.hint)
            if text is None:
                absent.append(lang)
                continue
            where, words = text
            missing = sorted(_placeholders(words) - use.params) if use.params is not None else []
            if missing:
                problems.append(
                    f"templates/locale/{lang}/{where}.toml: hint {use.hint} uses "
                    f"{{{missing[0]}}}, which {use.file}:{use.line} never passes"
                )
        if absent:
            paths = ", ".join(f"templates/locale/{lang}/{name}.toml" for lang in absent)
            problems.append(
                f"{use.file}:{use.line}: hint {use.hint!r} is in no {' or '.join(absent)} "
                f"catalog (add it to the [hints] of {paths})"
            )
    return problems


def _hint_text(
    tables: dict[str, dict[str, Any]], exercise: str, hint: str
) -> tuple[str, Any] | None:
    # The order Locale.hint looks them up in.
    for stem in (exercise, "torch_errors", "common"):
        hints = tables.get(stem, {}).get("hints", {})
        if hint in hints:
            return stem, hints[hint]
    return None


def _catalog_key_problems(
    path: str,
    lang: str,
    own: dict[str, Any],
    own_en: dict[str, Any],
    en_hints: dict[str, Any],
    checks: set[str],
    english: dict[str, dict[str, Any]],
) -> list[str]:
    problems = []
    # A top-level `title` is the exercise's title in this language.
    if "title" in own and not isinstance(own["title"], str):
        problems.append(f"{path}: title must be a text (the exercise's title in this language)")
    for table in sorted(set(own) - _TABLES - {"title"}):
        problems.append(
            f"{path}: unknown table [{table}] (an exercise's catalog holds "
            f"{', '.join(sorted(_TABLES))})"
        )
    if lang != "en" and "patterns" in own:
        problems.append(
            f"{path}: [patterns] belong in the English catalog only (torch speaks English)"
        )
    for key in sorted(own.get("patterns", {})):
        if key not in en_hints:
            problems.append(f"{path}: pattern {key} names no hint")
    if lang != "en":
        # (Their placeholders are compared with what each check passes, above.)
        for key in sorted(own.get("hints", {})):
            if key not in en_hints:
                problems.append(f"{path}: hint {key} is no hint of the English catalogs")
        words = {**english.get("ui", {}).get("plots", {}), **own_en.get("plots", {})}
        for key in sorted(own.get("plots", {})):
            if key not in words:
                problems.append(f"{path}: plot word {key} is in no English [plots]")
    for key in sorted(own.get("titles", {})):
        if key not in checks:
            problems.append(f"{path}: title {key} names no check")
    return problems


def _placeholder_left(root: Path, exercise: Exercise) -> list[str]:
    folders = [exercise.folder, exercise.checks, exercise.solution.parent]
    files = [p for folder in folders if folder.is_dir() for p in sorted(folder.rglob("*"))]
    files += sorted((root / "templates" / "locale").glob(f"*/{exercise.name}.toml"))
    problems = []
    for path in files:
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for number, line in enumerate(lines, 1):
            if PLACEHOLDER in line:
                problems.append(
                    f"{_shown(root, path)}:{number}: a placeholder of grade new is left: "
                    f"{line.strip()[:100]}"
                )
                break
    return problems


def _operation_problems(root: Path, exercise: Exercise, modules: list[_Module]) -> list[str]:
    table = exercise.checks / "operations.toml"
    shown = _shown(root, table)
    added: set[str] = set()
    problems = []
    if table.is_file():
        try:
            added = set(parse_table(_load(table), where=shown))
        except OperationError as exc:
            problems.append(str(exc))
    for op, file, line, derived in (o for m in modules for o in _operations(root, m)):
        if op in BUILTIN or op in added or (derived and op in _TENSOR_OPS):
            continue
        problems.append(
            f"{file}:{line}: operation {op!r} is neither built in nor defined in {shown}"
        )
    return problems
