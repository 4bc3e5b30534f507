"""Thin activity functions: adapt Functions I/O to plugins and shared code."""

from activities.blueprint import bp

__all__ = ["bp"]
