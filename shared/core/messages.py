"""The messages orchestrators and activities exchange: one small typed class each, one path to and from JSON.

Only plain JSON objects cross the Durable SDK: the sender passes `message.to_json()`, the receiver reads
`Message.from_json(value)`. The SDK could serialise a class with a to_json method itself, but it writes the
class's module and name into the history ({"__module__", "__class__", "__data__"}), so renaming or moving a
message would break every instance recorded before. The messages live in shared/ because orchestrators and
activities (one floor) both use them and neither should import the other; shared/db/runs.py takes the
counter names from here. Nothing here knows a source or the Functions API.

Histories recorded by older versions must still replay (instances in flight during a deploy, a devhost store
resuming a killed sync), and an activity may receive an input an older orchestrator queued. So from_json
ignores fields it does not know (older versions also sent server_time, api_calls, dropped, notes and a
connection's stream results) and gives a missing or null field its default; only a missing required field
is an error, raised as MessageError naming the message and the field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Self


class MessageError(ValueError):
    """A message that cannot be read: not a JSON object, or a required field missing."""


# The metadata of a field added after the message was first recorded: optional, absent from the JSON while at its
# default (see Message.to_json).
LATER: Mapping[str, bool] = {"later": True}


def _default_of(spec: dataclasses.Field[Any]) -> Any:
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return spec.default


class Message:
    """A dataclass with one JSON form; NESTED names the fields that hold other messages (one or a list)."""

    NESTED: ClassVar[Mapping[str, type[Message]]] = {}

    def to_json(self) -> dict[str, Any]:
        """A plain JSON object (field order kept, so an unchanged message is byte-identical across versions).

        A field added after messages were first recorded (declared with `metadata=LATER`) is left out while it holds its
        default: orchestrations that do not use it yield the same inputs as before, so their recorded histories
        still replay under the replay check that compares inputs (devhost/determinism.py).
        """
        data = dataclasses.asdict(self)  # type: ignore[call-overload]
        for spec in fields(self):  # type: ignore[arg-type]
            if spec.metadata.get("later") and data[spec.name] == _default_of(spec):
                del data[spec.name]
        return data

    @classmethod
    def from_json(cls, data: Any) -> Self:
        if not isinstance(data, Mapping):
            raise MessageError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
        values: dict[str, Any] = {}
        for spec in fields(cls):  # type: ignore[arg-type]
            value = data.get(spec.name)
            if value is None:
                has_default = spec.default is not dataclasses.MISSING or spec.default_factory is not dataclasses.MISSING
                if has_default:
                    continue
                if spec.name not in data:
                    raise MessageError(f"{cls.__name__}: required field {spec.name!r} is missing "
                                       f"(got {', '.join(sorted(data)) or 'no fields'})")
            nested = cls.NESTED.get(spec.name)
            if nested is not None and value is not None:
                value = [nested.from_json(v) for v in value] if isinstance(value, list) else nested.from_json(value)
            values[spec.name] = value
        return cls(**values)


# -- counters -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadCounts(Message):
    """What loading did to a stream; these field names are the counter names (see LOAD_COUNTERS)."""

    pages: int = 0
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    quarantined: int = 0

    def __add__(self, other: LoadCounts) -> LoadCounts:
        return LoadCounts(**{name: getattr(self, name) + getattr(other, name) for name in LOAD_COUNTERS})


# The one spelling of the load counters: sync_stream sums them, load_pages returns them, the audit stores them.
LOAD_COUNTERS: tuple[str, ...] = tuple(spec.name for spec in fields(LoadCounts))


@dataclass(frozen=True)
class LoadResult(LoadCounts):
    """load_pages' output: its counts (the same JSON it always returned) and how long it took, which sync_stream
    compares with the fetch beside it (activity outputs are recorded: the orchestrator may branch on them)."""

    seconds: float = field(default=0.0, metadata=LATER)  # absent from outputs recorded before it: 0


# -- sync_all -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SyncRequest(Message):
    """sync_all's input: one run over the connections in `scope`; options shrink loops in tests and operations."""

    run_id: str
    scope: str
    mode: str
    trigger: str = "manual"
    options: dict[str, int] = field(default_factory=dict)
    # What changed (plugin-defined hints from webhooks, e.g. an entity or a board): an incremental run may read only
    # the streams they touch. Empty: everything the mode reads.
    changed: list[str] = field(default_factory=list, metadata=LATER)
    # Backfill: re-read from this ISO date (mode "backfill").
    since: str | None = field(default=None, metadata=LATER)


@dataclass(frozen=True)
class BeginSync(Message):
    """begin_sync's input."""

    run_id: str
    scope: str
    mode: str
    trigger: str = "manual"
    instance_id: str = ""
    since: str | None = field(default=None, metadata=LATER)  # as SyncRequest's: recorded with the run


@dataclass(frozen=True)
class ConnectionResult(Message):
    """How one connection's part of a run ended (sync_connection's output, a skipped claim, an error of the run).

    connection_id is None only for an error of the whole run (it could not start).
    """

    connection_id: str | None
    status: str
    error: str = ""


@dataclass(frozen=True)
class Begun(Message):
    """begin_sync's output: the connections this run claimed, and those it skips (held by another run)."""

    NESTED: ClassVar[Mapping[str, type[Message]]] = {"skipped": ConnectionResult}

    connections: list[str]
    skipped: list[ConnectionResult] = field(default_factory=list)


@dataclass(frozen=True)
class FinishSync(Message):
    """finish_sync's input: every connection's result, or why the run could not start."""

    NESTED: ClassVar[Mapping[str, type[Message]]] = {"results": ConnectionResult}

    run_id: str
    results: list[ConnectionResult] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class RunOutcome(Message):
    """finish_sync's output and sync_all's: the run's status, its audit totals and its errors."""

    NESTED: ClassVar[Mapping[str, type[Message]]] = {"errors": ConnectionResult}

    run_id: str
    status: str
    totals: dict[str, int] = field(default_factory=dict)
    errors: list[ConnectionResult] = field(default_factory=list)


# -- sync_connection ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConnectionRequest(Message):
    """sync_connection's input."""

    run_id: str
    connection_id: str
    mode: str
    options: dict[str, int] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list, metadata=LATER)  # as SyncRequest's
    since: str | None = field(default=None, metadata=LATER)


@dataclass(frozen=True)
class PlanRequest(Message):
    """plan_streams' input: `failed` names the streams of earlier phases of this run that failed, with why."""

    run_id: str
    connection_id: str
    mode: str
    phase: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list, metadata=LATER)  # as SyncRequest's
    since: str | None = field(default=None, metadata=LATER)


@dataclass(frozen=True)
class StreamPlan(Message):
    """Where one stream starts in this run; `cursor` is plugin-defined JSON.

    sweep: after a complete read, rows the read did not see are tombstoned (deletes the source
    reports nowhere else).
    """

    stream: str
    cursor: dict[str, Any]
    sweep: bool = False


@dataclass(frozen=True)
class StoredPlan(Message):
    """A phase's streams too many for one orchestration's history: landed under `ref` as `shards` blobs of at most
    `shard_size` streams each (activities/plan_shards.py), run `shards_at_once` shards at a time."""

    ref: str
    streams: int
    shards: int
    shard_size: int
    shards_at_once: int


@dataclass(frozen=True)
class PlanResult(Message):
    """plan_streams' output: the streams of this phase, what the plugin keeps for after_run, or why not to run.

    A phase of more streams than a shard holds comes back `sharded` (its streams stored, `streams` empty)."""

    NESTED: ClassVar[Mapping[str, type[Message]]] = {"streams": StreamPlan, "sharded": StoredPlan}

    streams: list[StreamPlan] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    refused: str | None = None
    next_phase: bool = False
    # Why the budget planner left this scheduled run out for the connection (the schedule stretched); not a failure.
    skipped: str | None = field(default=None, metadata=LATER)
    sharded: StoredPlan | None = field(default=None, metadata=LATER)


@dataclass(frozen=True)
class FinishConnection(Message):
    """finish_connection's input, once every stream succeeded: the plan context and the streams this run read."""

    run_id: str
    connection_id: str
    context: dict[str, Any] = field(default_factory=dict)
    # Absent in inputs queued by older versions: no stream's watermark is then offered to after_run.
    streams: list[str] = field(default_factory=list)
    # A phase ran sharded: the streams it read are too many to list here; they are this run's streams of the
    # connection in the audit (sync_run_streams), every one of them succeeded.
    streams_in_audit: bool = field(default=False, metadata=LATER)


@dataclass(frozen=True)
class ConnectionKey(Message):
    """refresh_aggregates' input."""

    connection_id: str


# -- sync_stream ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StreamKey(Message):
    """One stream of one connection in one run (sweep_deletes' input, and the head of every stream message)."""

    run_id: str
    connection_id: str
    stream: str

    def key(self) -> StreamKey:
        return StreamKey(self.run_id, self.connection_id, self.stream)


@dataclass(frozen=True)
class StreamRequest(StreamKey):
    """sync_stream's input from sync_connection: where the stream starts."""

    cursor: dict[str, Any]
    sweep: bool = False
    sequence: int = 0
    options: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Lane(Message):
    """A cursor chain carried through continue_as_new: where it goes on (None: read to its end), the sequence number
    of its next landed page, and how many doublings its fetches reached. `parked` and `not_before` are read only from
    states recorded before each chain of a split became a sub-orchestration of its own (see StreamState)."""

    cursor: dict[str, Any] | None
    sequence: int = 0
    parked: bool = False
    # After a throttled fetch: the orchestration time (ISO) before which this chain waits while the others go on.
    not_before: str | None = field(default=None, metadata=LATER)
    # Its loads were slower than its fetches: its fetches read more pages (FetchRequest.doublings).
    doublings: int = field(default=0, metadata=LATER)


@dataclass(frozen=True)
class StreamState(StreamRequest):
    """sync_stream's input as it continues as new: the request moved on, with what the earlier executions did.

    lanes: empty while the instance's own chain is all it carries (cursor and sequence); otherwise its own chain
    first (with the size its fetches grew to), then the chains a split handed it that it has not started yet, each
    started as a sub-orchestration of its own. chain: this instance is one of those chains: it loads its pages and
    returns a ChainResult; the stream's end (the metric refresh, the sweep, finish_stream) is its parent's."""

    NESTED: ClassVar[Mapping[str, type[Message]]] = {"totals": LoadCounts, "lanes": Lane}

    totals: LoadCounts = field(default_factory=LoadCounts)
    throttles: int = 0  # consecutive throttled fetches
    throttle_waits: int = 0
    lanes: list[Lane] = field(default_factory=list, metadata=LATER)
    chain: bool = field(default=False, metadata=LATER)


@dataclass(frozen=True)
class ChainResult(Message):
    """sync_stream's output as a chain of a split stream (StreamState.chain): what its loads did and how many
    throttles it waited out, for the stream to add to its own."""

    NESTED: ClassVar[Mapping[str, type[Message]]] = {"totals": LoadCounts}

    totals: LoadCounts = field(default_factory=LoadCounts)
    throttle_waits: int = 0


@dataclass(frozen=True)
class StreamResult(Message):
    """sync_stream's output: how the stream ended (its counts are in the run's audit)."""

    stream: str
    status: str
    error: str | None = None


@dataclass(frozen=True)
class FetchRequest(StreamKey):
    """fetch_pages' input: up to max_pages pages (None: the configured number) from `cursor`.

    doublings: sync_stream found this chain's loads slower than its fetches; read PAGES_PER_FETCH doubled this many
    times, at most LOAD_PAGES_MAX (never fewer than PAGES_PER_FETCH), so the next load gets more pages in one
    transaction. Ignored when max_pages is given."""

    cursor: dict[str, Any] | None
    sequence: int = 0
    max_pages: int | None = None
    doublings: int = field(default=0, metadata=LATER)


@dataclass(frozen=True)
class PageRef(Message):
    """One landed page: its blob, how many records it holds, and the stream's watermark after it."""

    ref: str
    records: int
    watermark: dict[str, Any] | None = None


@dataclass(frozen=True)
class FetchResult(Message):
    """fetch_pages' output: the pages landed, where the stream goes on (None: at its end) and throttle hints."""

    NESTED: ClassVar[Mapping[str, type[Message]]] = {"pages": PageRef}

    pages: list[PageRef]
    cursor: dict[str, Any] | None
    done: bool
    retry_after: float | None = None
    throttle_reason: str | None = None
    # Cursors the stream is read through side by side from here (plugins.base.Page.chains); `cursor` then goes on
    # only once every one of them is read to its end.
    chains: list[dict[str, Any]] = field(default_factory=list, metadata=LATER)
    # How long the fetch took (absent from outputs recorded before it: 0); see LoadResult.seconds.
    seconds: float = field(default=0.0, metadata=LATER)
    # The doublings of FetchRequest.doublings this fetch's size came to (LOAD_PAGES_MAX caps them; 0 from versions
    # that did not double): where the chain's next doubling or halving starts.
    doublings: int = field(default=0, metadata=LATER)
    # Why nothing was read: the stream has already ended in this run (a chain of it failed and recorded its stream's
    # failure while this chain went on). A chain stops there; the stream's own chain fails with it.
    stopped: str | None = field(default=None, metadata=LATER)
    # The next fetch is the stream's last read, as far as its source has counted (plugins.base.Page.last_next).
    last_next: bool = field(default=False, metadata=LATER)


@dataclass(frozen=True)
class LoadRequest(StreamKey):
    """load_pages' input. The metric refresh of a stream's loads runs once, in the transaction of its last load
    (`ends_stream`): the dirty marks of the loads before it are committed with their rows and wait for it.
    `keep_ids`: the stream's read is complete and its sweep follows, so each page's ids are kept for it
    (shared/db/pages.py keep_seen_ids); other loads keep none (nothing would read them)."""

    NESTED: ClassVar[Mapping[str, type[Message]]] = {"pages": PageRef}

    pages: list[PageRef]
    ends_stream: bool = field(default=False, metadata=LATER)
    keep_ids: bool = field(default=False, metadata=LATER)


@dataclass(frozen=True)
class SweepResult(Message):
    """sweep_deletes' output."""

    deleted: int = 0


@dataclass(frozen=True)
class StreamFinished(StreamKey):
    """finish_stream's input."""

    status: str
    error: str | None = None
    throttle_waits: int = 0


# -- sync_phase and sync_shard: a stored plan's streams, a shard at a time ------------------------------------
MAX_NAMED_FAILURES = 20  # a phase's result names at most this many failed streams; it counts them all
NAMED_ERROR_CHARS = 300  # and keeps this much of each one's error (the audit keeps it whole)


@dataclass(frozen=True)
class ShardResult(Message):
    """How a shard's streams (sync_shard's output), or a phase's shards (sync_phase's), ended: counts, and the first
    MAX_NAMED_FAILURES failed streams with why (the audit has every one)."""

    NESTED: ClassVar[Mapping[str, type[Message]]] = {"failures": StreamResult}

    succeeded: int = 0
    failed: int = 0
    failures: list[StreamResult] = field(default_factory=list)

    @classmethod
    def of(cls, results: list[StreamResult]) -> ShardResult:
        failures = [r for r in results if r.status != "succeeded"]
        named = [dataclasses.replace(r, error=r.error[:NAMED_ERROR_CHARS] if r.error else r.error)
                 for r in failures[:MAX_NAMED_FAILURES]]
        return cls(len(results) - len(failures), len(failures), named)

    def __add__(self, other: ShardResult) -> ShardResult:
        return ShardResult(self.succeeded + other.succeeded, self.failed + other.failed,
                           [*self.failures, *other.failures][:MAX_NAMED_FAILURES])


@dataclass(frozen=True)
class PhaseRequest(Message):
    """sync_phase's input: the stored plan of one phase; `next_shard` and `done` carry it across continue_as_new.

    streams_prefix: the instance id its streams' sync_stream instances are named under (sync_connection's, as
    when it starts them itself)."""

    NESTED: ClassVar[Mapping[str, type[Message]]] = {"plan": StoredPlan, "done": ShardResult}

    run_id: str
    connection_id: str
    plan: StoredPlan
    streams_prefix: str
    options: dict[str, int] = field(default_factory=dict)
    next_shard: int = 0
    done: ShardResult = field(default_factory=ShardResult)


@dataclass(frozen=True)
class ShardRequest(Message):
    """sync_shard's input, and read_plan_page's: shard number `shard` of the plan stored under `ref`."""

    run_id: str
    connection_id: str
    ref: str
    shard: int
    streams_prefix: str = ""
    options: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanPage(Message):
    """read_plan_page's output: the streams of one shard."""

    NESTED: ClassVar[Mapping[str, type[Message]]] = {"streams": StreamPlan}

    streams: list[StreamPlan] = field(default_factory=list)


# -- sync_on_change -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChangeDrive(Message):
    """sync_on_change's input: the connection it drives and its debounce (read from the settings by the trigger, so
    the orchestrator stays deterministic); `runs` counts the runs this driver started in earlier executions."""

    connection_id: str
    window_seconds: float
    max_wait_seconds: float
    runs: int = 0


@dataclass(frozen=True)
class ChangeKey(Message):
    """count_changes' and release_changes' input: the connection and the driver instance asking."""

    connection_id: str
    instance_id: str


@dataclass(frozen=True)
class PendingEvents(Message):
    """count_changes' output: notices waiting for the connection's next run."""

    events: int = 0


@dataclass(frozen=True)
class ClaimChanges(ChangeKey):
    """claim_changes' input: the run to record and the sync_all instance that will run it."""

    run_id: str
    run_instance_id: str


@dataclass(frozen=True)
class ChangesClaimed(Message):
    """claim_changes' output. status: claimed (run recorded, lease held, hints taken), nothing (nothing pending),
    busy (another run holds the connection: `holder` says which; nothing taken), not_driver (this instance no longer
    drives the connection). `changed` empty with status claimed: a run of every stream."""

    status: str
    changed: list[str] = field(default_factory=list)
    events: int = 0
    holder: str = ""


@dataclass(frozen=True)
class ChangesReleased(Message):
    """release_changes' output: False when notices arrived meanwhile (a follow-up run is due)."""

    released: bool


__all__ = [
    "LATER", "LOAD_COUNTERS", "MAX_NAMED_FAILURES", "NAMED_ERROR_CHARS", "BeginSync", "Begun", "ChangeDrive",
    "ChangeKey", "ChangesClaimed", "ChangesReleased", "ClaimChanges", "ConnectionKey", "ConnectionRequest",
    "ConnectionResult", "FetchRequest", "FetchResult", "FinishConnection", "FinishSync", "Lane", "LoadCounts",
    "LoadRequest", "LoadResult", "Message", "MessageError", "PageRef", "PendingEvents", "PhaseRequest", "PlanPage",
    "PlanRequest", "PlanResult", "RunOutcome", "ShardRequest", "ShardResult", "StoredPlan", "StreamFinished",
    "StreamKey", "StreamPlan", "StreamRequest", "StreamResult", "StreamState", "SweepResult", "SyncRequest",
]
