"""Deterministic generator orchestrators: no I/O, no clock, no randomness.

sync_all -> sync_connection (one per connection) -> sync_stream (one per stream); sync_on_change (one per
connection with pending change notices) runs sync_all for what a source announced.
"""

from orchestrators import sync_all, sync_connection, sync_on_change, sync_stream  # noqa: F401  (registration by import)
from orchestrators.blueprint import bp

__all__ = ["bp"]
