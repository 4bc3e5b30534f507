"""Deterministic generator orchestrators: no I/O, no clock, no randomness.

sync_all -> sync_connection (one per connection) -> sync_stream (one per stream); a phase of many streams goes
through sync_phase -> sync_shard (a shard of streams each) -> sync_stream; a stream a fetch split into several
cursor chains reads each in a sync_stream of its own (StreamState.chain) under it; sync_on_change (one per
connection with pending change notices) runs sync_all for what a source announced.
"""

from orchestrators import (  # noqa: F401  (registration by import)
    sync_all,
    sync_connection,
    sync_on_change,
    sync_phase,
    sync_stream,
)
from orchestrators.blueprint import bp

__all__ = ["bp"]
