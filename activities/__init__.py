"""Thin activity functions: adapt Functions I/O to plugins and shared code.

Importing the package registers every activity on `bp`.
"""

from activities import aggregates, fetch, load, runs  # noqa: F401  (registration by import)
from activities.blueprint import bp

__all__ = ["bp"]
