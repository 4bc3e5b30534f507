"""How the account phase of the current run ended, read back from the run audit (sync_run_streams) when the
item streams are planned: a failed account stream must stop only what depends on it, and say so on the run.

The item phase is planned right after the account phase of the same run, and a connection is synced by one
run at a time, so the newest audit row of each account stream is this run's.
"""

from __future__ import annotations

from shared.db.connect import connect

ACCOUNT_STREAMS = ("directory", "boards", "updates")


def account_failures(connection_id: str) -> dict[str, str]:
    """{stream: error} for the account streams whose latest attempt failed."""
    with connect() as conn:
        rows = conn.execute(
            """SELECT DISTINCT ON (stream) stream, status, error FROM sync_run_streams
               WHERE connection_id = %s AND stream = ANY(%s) ORDER BY stream, started_at DESC""",
            (connection_id, list(ACCOUNT_STREAMS))).fetchall()
    return {stream: error or "no reason recorded" for stream, status, error in rows if status == "failed"}
