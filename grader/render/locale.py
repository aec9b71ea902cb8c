"""Look up user-facing strings and hints in the catalogs beside the templates.

Catalogs are TOML files under ``templates/locale/<lang>/``: ``ui.toml`` holds the
report's and terminal's words, ``<exercise>.toml`` the hints of one exercise
(a ``[hints]`` table) and ``torch_errors.toml`` the hints for torch's own errors.
A key missing in a language falls back to English, so a partial translation
never hides a hint.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import tomllib

__all__ = ["Locale", "LANGUAGES"]

LANGUAGES = ("en", "zh")


class _Params(dict[str, Any]):
    # A hint whose parameters a check forgot still renders, showing the gap.
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@cache
def _catalog(folder: Path) -> dict[str, dict[str, Any]]:
    catalog: dict[str, dict[str, Any]] = {}
    if folder.is_dir():
        for path in sorted(folder.glob("*.toml")):
            with path.open("rb") as f:
                catalog[path.stem] = tomllib.load(f)
    return catalog


def _lookup(tables: dict[str, Any], dotted: str) -> str | None:
    node: Any = tables
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, str) else None


class Locale:
    """Render catalog strings of one language, with English as the fallback."""

    def __init__(self, templates: Path, lang: str = "en") -> None:
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r} (choose from {', '.join(LANGUAGES)})")
        self.lang = lang
        self._chain = [_catalog(templates / "locale" / lang)]
        if lang != "en":
            self._chain.append(_catalog(templates / "locale" / "en"))
        # Names these catalogs: equal for two Locales that say everything the same way.
        self.fingerprint = f"{lang}:{hash(repr(self._chain))}"

    def text(self, key: str, **params: Any) -> str:
        """Return the string at ``catalog.dotted.key`` filled with ``params``."""
        for catalog in self._chain:
            found = _lookup(catalog, key)
            if found is not None:
                return found.format_map(_Params(params))
        return key

    def title(self, exercise: str, check: str, default: str) -> str:
        """Return a check's title in this language (``[titles]`` of the exercise's catalog)."""
        # A parametrized check ("test_x[2.0]") shares the title of its function.
        function, bracket, parameters = check.partition("[")
        key = f"{exercise}.titles.{function}"
        for catalog in self._chain[:1]:  # English titles are the checks' own docstrings
            found = _lookup(catalog, key)
            if found is not None:
                # ... each with its parameters, as the English title has them.
                return f"{found} [{parameters}" if bracket else found
        return default

    def hint(self, exercise: str, hint_id: str, params: dict[str, Any]) -> str:
        """Return the hint ``hint_id`` of ``exercise`` (or of torch_errors/common)."""
        params = {key: self.word(exercise, value) for key, value in params.items()}
        for catalog_key in (
            f"{exercise}.hints.{hint_id}",
            f"torch_errors.hints.{hint_id}",
            f"common.hints.{hint_id}",
        ):
            text = self.text(catalog_key, **params)
            if text != catalog_key:
                return text
        return hint_id

    def word(self, exercise: str, value: Any) -> Any:
        """Say a name a check passed into a hint ("the gradient") in this language.

        Checks pass such names in English; the ``[words]`` table of the
        exercise's catalog (then of common.toml) maps them, keyed by the English.
        """
        if not isinstance(value, str):
            return value
        for catalog in self._chain:
            for stem in (exercise, "common"):
                words = catalog.get(stem, {}).get("words")
                if isinstance(words, dict) and isinstance(words.get(value), str):
                    return words[value]
        return value
