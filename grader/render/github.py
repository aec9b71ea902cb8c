"""Read what GitHub Actions tells a step through its environment."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["in_actions", "step_summary"]


def in_actions() -> bool:
    """Say whether this runs in a GitHub Actions job (its log then obeys ``::commands::``)."""
    return os.environ.get("GITHUB_ACTIONS") == "true"


def step_summary() -> Path | None:
    """Return the file a step appends its Markdown summary to, if GitHub gave one."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    return Path(path) if path else None
