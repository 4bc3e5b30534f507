"""A connection's refresh spread over several database sessions, for the refreshes that rebuild metrics whole.

A first sync's refresh rebuilds every metric of the connection from its raw rows, one after another, on one core
of the database, and it is the last thing the sync does: 26 s for the 13 metrics of a 1M-record company
(docs/SCALING.md). The metrics do not read each other's points or parts, so they can be rebuilt side by side,
each in a session of its own: at 100,000 records on the 2-core development machine, 5.6-6.0 s in one session
and 2.6-3.4 s in two (bench/bench_metrics.py --rows 100000 --sessions 2).

What changes is only when each metric's new points become visible:

- The coordinating transaction (the caller's) takes the connection's refresh lock and its marks, and commits last;
  the lock keeps every other refresh of the connection out until then.
- Each metric's work runs in one transaction, which commits when it is done: the metric's points are then
  consistent with the raw rows as one whole, as they are after any refresh; two metrics may briefly be from
  different moments.
- A work whose statements the data refuses (SQLSTATE class 22, refresh.py's run_work_guarded) fails alone: its
  transaction (or savepoint) rolls back, the coordinating transaction records the metric as refused, and the
  others go on.
- If any work fails otherwise, no further work starts, and the error is raised: the coordinating transaction rolls
  back, so the marks are back for the next refresh. The metrics already committed stay, and are correct. Recomputing a
  metric from the raw rows again gives the same points, so the next refresh redoing them restates nothing wrong.
- A load that commits while the works run has its marks left, committed beside its rows: the next refresh of the
  connection recomputes its days (a refresh at a stream's end that finds the lock held leaves them, as it does
  beside any refresh, to the connection's refresh_aggregates: activities/stream_end.py).
- The extra sessions do not hold the lock themselves: were the coordinating session to end while they work (its
  backend killed), another refresh could start on a metric one of them is still writing, and would wait for its
  rows or fail on their keys; it would not count a change twice, since every refresh recomputes from the raw rows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psycopg

from shared.metrics.catalog import Aggregation
from shared.metrics.refresh import (
    MetricWork,
    RefreshPlan,
    RefreshResult,
    lock_refresh,
    log_refused,
    mark_refused,
    plan_refresh,
    refused_by_data,
    run_work,
    run_work_guarded,
    take_marks,
)
from shared.metrics.registry import Catalogs

log = logging.getLogger(__name__)


def refresh_in_sessions(conn: psycopg.Connection, connection_id: str, catalogs: Catalogs, *, sessions: int,
                        connect: Callable[[], psycopg.Connection], wait: bool = True) -> RefreshResult | None:
    """refresh_dirty(conn, connection_id, catalogs) waiting for the lock (None at once, without `wait`, when another
    refresh holds it), with its metrics spread over `sessions` sessions when it rebuilds at least two of them whole:
    conn's own and sessions - 1 more from `connect`.

    Call it inside conn's transaction, which holds the marks until it commits. The refresh runs in that transaction
    alone, as refresh_dirty does, when it rebuilds fewer than two metrics whole, or when the transaction has written
    anything before (the other sessions would not see its rows, and would wait for the metric rows it wrote)."""
    if not lock_refresh(conn, connection_id, wait=wait):
        return None
    wrote = conn.execute("SELECT pg_current_xact_id_if_assigned() IS NOT NULL").fetchone()[0]
    plan = plan_refresh(conn, connection_id, catalogs, take_marks(conn, connection_id))
    if sessions < 2 or plan.whole() < 2 or wrote:
        failed = [work.metric.name for work in plan.works if not run_work_guarded(conn, plan, work)]
    else:
        failed = _run_side_by_side(conn, plan, min(sessions, len(plan.works)), connect)
    return plan.result(failed)


def _cost_rank(work: MetricWork) -> int:
    """Larger first, so that the longest rebuilds start at once and the short ones fill the gaps: a distinct count
    writes a part per value and day, a balance reads every event up to each day; a sum, count or average is one
    grouped scan (measured per metric: bench/bench_metrics.py --by-metric)."""
    if work.days is not None:
        return 0
    metric = work.metric
    if metric.aggregation is Aggregation.DISTINCT:
        return 3
    return 2 if metric.keyed or metric.aggregation in (Aggregation.BALANCE, Aggregation.MEDIAN) else 1


def _run_side_by_side(conn: psycopg.Connection, plan: RefreshPlan, sessions: int,
                      connect: Callable[[], psycopg.Connection]) -> list[str]:
    """The works spread over the sessions; the names of the metrics whose data refused them."""
    pending = sorted(plan.works, key=_cost_rank, reverse=True)
    taking = threading.Lock()
    failed = threading.Event()
    refused: list[str] = []  # appended to by every session's thread (list.append is atomic)

    def next_work() -> MetricWork | None:
        with taking:
            return None if failed.is_set() or not pending else pending.pop(0)

    def work_through(session: psycopg.Connection, *, committing: bool) -> None:
        """Take works until none is left or one failed: in a transaction of their own each (an extra session), or
        in the caller's (the coordinating session)."""
        while (work := next_work()) is not None:
            started = time.monotonic()
            try:
                if committing:
                    with session.transaction():
                        session.execute("SET LOCAL jit = off")  # as lock_refresh sets it for the coordinator
                        run_work(session, plan, work)
                elif not run_work_guarded(session, plan, work):
                    refused.append(work.metric.name)
                    continue
            except psycopg.DataError as exc:
                if not refused_by_data(exc):
                    failed.set()
                    raise
                # Its own transaction rolled back; the coordinating transaction records it as refused, below.
                log_refused(plan.connection_id, work.metric.name, exc)
                refused.append(work.metric.name)
                continue
            except BaseException:
                failed.set()
                raise
            log.info("%s %s in %.2f s (%s)", "rebuilt" if work.days is None else "restated", work.metric.name,
                     time.monotonic() - started, "committed" if committing else "with the connection's transaction")

    def in_own_session() -> None:
        try:
            own = connect()
        except psycopg.OperationalError as exc:
            # The server's connection limit, a login that failed: the sessions that opened do the works.
            log.warning("a session of the metric refresh could not open (%s); the others do its share", exc)
            return
        with own:
            work_through(own, committing=True)

    with ThreadPoolExecutor(max_workers=sessions - 1, thread_name_prefix="metric-refresh") as pool:
        others = [pool.submit(in_own_session) for _ in range(sessions - 1)]
        try:
            work_through(conn, committing=False)
        finally:
            # Every session ends its work in hand before the error, if any, reaches the caller.
            errors = [future.exception() for future in others]
    first = next((error for error in errors if error is not None), None)
    if first is not None:
        log.warning("a metric's refresh failed in its own session; the connection's marks stay for the next refresh")
        raise first
    if refused:
        # What the other sessions' refused works leave to it (its own, run_work_guarded recorded already: the same
        # row is written again).
        mark_refused(conn, plan.connection_id, refused)
    return refused
