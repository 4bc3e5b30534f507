"""Connection leases: at most one run syncs a connection at a time, whatever started the runs.

A run claims the lease of each connection it is about to sync (in begin_sync) and releases them where its
outcome is recorded (finish_sync). The claim is one row per connection, taken under its row lock, so two
runs racing for a connection cannot both get it. A lease whose run is no longer 'running' (finished, or
closed by hand) or that was not renewed before it expired belongs to a run that ended without releasing
it: the next claimant takes it over and says so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg

# Longer than the longest durable wait of a live run (a daily API cap's wait lasts until the cap resets, at
# most a day), so a live run is never taken for dead; the lease is renewed whenever the run plans or ends a stream.
TTL = dt.timedelta(hours=30)


@dataclass(frozen=True)
class Lease:
    """Who holds a connection, since when, and until when without renewal."""

    connection_id: str
    run_id: str
    instance_id: str
    claimed_at: dt.datetime
    expires_at: dt.datetime

    def describe(self) -> str:
        since = self.claimed_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"run {self.run_id} (instance {self.instance_id or '?'}) has been syncing it since {since}"


@dataclass(frozen=True)
class Claim:
    """The outcome of a claim: granted, or refused because `holder` holds the connection.

    `taken_over` is the stale lease a granted claim replaced, if any.
    """

    connection_id: str
    granted: bool
    holder: Lease | None = None
    taken_over: Lease | None = None

    def message(self) -> str:
        if not self.granted and self.holder:
            return f"not synced: {self.connection_id} is held by another sync: {self.holder.describe()}"
        if self.taken_over:
            return (f"took over {self.connection_id} from run {self.taken_over.run_id}, which ended without "
                    "releasing it")
        return ""


_COLUMNS = "l.connection_id, l.run_id, l.instance_id, l.claimed_at, l.expires_at"


def claim(conn: psycopg.Connection, connection_id: str, run_id: str, instance_id: str,
          ttl: dt.timedelta = TTL) -> Claim:
    """Take the connection's lease for the run, unless another live run holds it. Idempotent per run.

    Call inside a transaction: the lease row stays locked until it commits, so a concurrent claimant waits
    and then sees this claim.
    """
    conn.execute(
        """INSERT INTO connection_leases (connection_id, run_id, instance_id, expires_at)
           VALUES (%s, %s, %s, now() + %s) ON CONFLICT (connection_id) DO NOTHING""",
        (connection_id, run_id, instance_id, ttl),
    )
    row = conn.execute(
        f"""SELECT {_COLUMNS}, r.status IS DISTINCT FROM 'running' OR l.expires_at <= now() AS stale
            FROM connection_leases l LEFT JOIN sync_runs r USING (run_id)
            WHERE l.connection_id = %s FOR UPDATE OF l""",
        (connection_id,),
    ).fetchone()
    lease, stale = Lease(*row[:5]), row[5]
    if lease.run_id == run_id:
        return Claim(connection_id, True)
    if not stale:
        return Claim(connection_id, False, holder=lease)
    conn.execute(
        """UPDATE connection_leases SET run_id = %s, instance_id = %s, claimed_at = now(), expires_at = now() + %s
           WHERE connection_id = %s""",
        (run_id, instance_id, ttl, connection_id),
    )
    return Claim(connection_id, True, taken_over=lease)


def renew(conn: psycopg.Connection, connection_id: str, run_id: str, ttl: dt.timedelta = TTL) -> bool:
    """Push the run's lease expiry out; False when the run does not hold the connection."""
    row = conn.execute(
        "UPDATE connection_leases SET expires_at = now() + %s WHERE connection_id = %s AND run_id = %s RETURNING 1",
        (ttl, connection_id, run_id),
    ).fetchone()
    return row is not None


def release(conn: psycopg.Connection, run_id: str) -> list[str]:
    """Release every lease the run holds; returns the connections released."""
    rows = conn.execute("DELETE FROM connection_leases WHERE run_id = %s RETURNING connection_id",
                        (run_id,)).fetchall()
    return sorted(r[0] for r in rows)


def holder(conn: psycopg.Connection, connection_id: str) -> Lease | None:
    """The lease on the connection, stale or not."""
    row = conn.execute(f"SELECT {_COLUMNS} FROM connection_leases l WHERE l.connection_id = %s",
                       (connection_id,)).fetchone()
    return Lease(*row) if row else None


def live_holder(conn: psycopg.Connection, connection_id: str) -> Lease | None:
    """The lease on the connection if a live run holds it (running, not expired): the run a new one would meet."""
    row = conn.execute(
        f"""SELECT {_COLUMNS} FROM connection_leases l JOIN sync_runs r USING (run_id)
            WHERE l.connection_id = %s AND r.status = 'running' AND l.expires_at > now()""",
        (connection_id,)).fetchone()
    return Lease(*row) if row else None
