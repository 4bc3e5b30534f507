"""What a plan says about a run (not an error) is kept with the run."""

from __future__ import annotations

import psycopg

from tests.integration.helpers import start


def test_a_first_incremental_run_notes_that_it_reads_everything(host, connection, pg_dsn):
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("DELETE FROM stream_state WHERE connection_id = %s", (connection,))
        conn.commit()
    instance_id, run_id = start(host, "incremental")
    status = host.run_until_complete(instance_id, timeout=300)
    assert status["output"]["status"] == "succeeded"
    with psycopg.connect(pg_dsn) as conn:
        (notes,) = conn.execute("SELECT notes FROM sync_runs WHERE run_id = %s", (run_id,)).fetchone()
    assert [n["connection_id"] for n in notes] == [connection]
    assert "reading every entity and sweeping deletes" in notes[0]["note"]
