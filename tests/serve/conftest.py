"""The fixtures of the server's tests; they live in ``serving``, which the tests import.

A module of its own, not this conftest: ``from conftest import ...`` in a test would
find tests/e2e's conftest when both folders run in one session.
"""

from lti_platform import setup
from serving import course, database_url, engine, people, postgres

__all__ = ["course", "database_url", "engine", "people", "postgres", "setup"]
