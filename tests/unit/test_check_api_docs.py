"""docs/check-api.md documents every public name of the check API, and is up to date."""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path
from types import ModuleType

import grader.check

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_api", DOCS / "check_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_public_name_of_grader_check_has_an_entry() -> None:
    page = (DOCS / "check-api.md").read_text(encoding="utf-8")
    entries = set(re.findall(r"^### `([A-Za-z_]+)`$", page, flags=re.M))
    missing = sorted(set(grader.check.__all__) - entries)
    assert not missing, f"docs/check-api.md has no entry for {', '.join(missing)}"


def test_every_helper_has_a_worked_example() -> None:
    for name in grader.check.__all__:
        obj = getattr(grader.check, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert "Example" in (obj.__doc__ or ""), f"grader.check.{name} shows no example"


def test_the_page_is_what_the_script_writes() -> None:
    page = (DOCS / "check-api.md").read_text(encoding="utf-8")
    assert page == _script().render(), "run python docs/check_api.py"
