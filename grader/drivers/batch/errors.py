"""What stops a batch: one line for the instructor, raised by any of its stages."""

from __future__ import annotations

__all__ = ["BatchError"]


class BatchError(Exception):
    """A one-line reason why the batch cannot run."""
