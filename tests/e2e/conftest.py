"""End-to-end tests share the session's built sample (``built_sample`` in tests/conftest.py)."""

from tests.sample_project import scrm

__all__ = ["scrm"]
