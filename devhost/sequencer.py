"""Task sequence ids as the Durable extension allocates them.

The extension (OutOfProcOrchestrationShim, replay schema >= V2) replays `actions[0]` against a DTFx
context, awaiting each action before invoking the next; compound actions invoke their children
depth-first; `-WithRetry` calls run the DTFx RetryInterceptor (attempt, timer, attempt, ..., and one
more timer after the last failed attempt). Each activity, timer and sub-orchestration gets the next id
when invoked. Completions from the history are fed in order, so retries and later actions get their
ids at the same point of the replay as they do in the runtime (and in the Python SDK).
"""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import datetime, timedelta
from typing import Any

from azure.durable_functions.models.actions import ActionType as A
from azure.durable_functions.models.history import HistoryEventType as T

from devhost.clock import format_ts, parse_ts
from devhost.history import completion_id

RUNNING, SUCCEEDED, FAILED, CANCELED = "running", "succeeded", "failed", "canceled"

ACTIVITY, SUBORCH, TIMER, EVENT = "activity", "suborchestration", "timer", "event"
# Which completion events may settle which kind of leaf.
_SETTLES = {
    T.TASK_COMPLETED: (ACTIVITY, SUCCEEDED),
    T.TASK_FAILED: (ACTIVITY, FAILED),
    T.SUB_ORCHESTRATION_INSTANCE_COMPLETED: (SUBORCH, SUCCEEDED),
    T.SUB_ORCHESTRATION_INSTANCE_FAILED: (SUBORCH, FAILED),
    T.TIMER_FIRED: (TIMER, SUCCEEDED),
}
ACTION_NAMES = {int(a): a.name for a in A}


class UnsupportedAction(Exception):
    """The orchestrator used an API this host does not implement (entities, call_http)."""


class Node:
    """A task in the extension's replay; settles once, then tells its parent."""

    def __init__(self) -> None:
        self.state = RUNNING
        self.parent: Node | None = None

    def child_done(self, child: Node, seq: Sequencer) -> None:
        """React to a child settling (compound and retry nodes override this)."""


class Leaf(Node):
    """An activity, timer or sub-orchestration with a sequence id, or an external-event wait (no id)."""

    def __init__(self, kind: str, task_id: int | None, *, name: str | None = None,
                 input_json: str | None = None, instance_id: str | None = None,
                 fire_at: str | None = None, canceled: bool = False) -> None:
        super().__init__()
        self.kind = kind
        self.task_id = task_id
        self.name = name
        self.input = input_json
        self.instance_id = instance_id
        self.fire_at = fire_at
        self.canceled = canceled

    def describe(self) -> str:
        """Short human text for error messages."""
        label = {ACTIVITY: "activity", SUBORCH: "sub-orchestration", TIMER: "timer", EVENT: "event"}[self.kind]
        return f"{label} '{self.name}'" if self.name else label


class _Done(Node):
    """Fire-and-forget action (continue_as_new): complete as soon as it is invoked."""

    def __init__(self) -> None:
        super().__init__()
        self.state = SUCCEEDED


class _WhenAll(Node):
    """Task.WhenAll: settles when every child has settled (a failure does not end it early)."""

    def __init__(self, children: list[Node]) -> None:
        super().__init__()
        self.children = children

    def child_done(self, child: Node, seq: Sequencer) -> None:
        if all(c.state != RUNNING for c in self.children):
            ok = all(c.state == SUCCEEDED for c in self.children)
            seq.settle(self, SUCCEEDED if ok else FAILED)


class _WhenAny(Node):
    """Task.WhenAny: settles as soon as one child settles, whatever its outcome."""

    def __init__(self, children: list[Node]) -> None:
        super().__init__()
        self.children = children

    def child_done(self, child: Node, seq: Sequencer) -> None:
        seq.settle(self, SUCCEEDED)


class _Retry(Node):
    """DTFx RetryInterceptor with a constant interval (the Python SDK only sends the first interval)."""

    def __init__(self, kind: str, action: dict[str, Any], seq: Sequencer) -> None:
        super().__init__()
        options = action.get("retryOptions") or {}
        self.kind = kind
        self.action = action
        self.interval = timedelta(milliseconds=int(options.get("firstRetryIntervalInMilliseconds", 0)))
        self.max_attempts = max(1, int(options.get("maxNumberOfAttempts", 1)))
        self.attempts = 0
        self.final = False
        self.timers: set[int] = set()
        self._attempt(seq)

    def _attempt(self, seq: Sequencer) -> None:
        self.attempts += 1
        leaf = seq.new_leaf(self.kind, name=self.action.get("functionName"), input_json=self.action.get("input"),
                            instance_id=self.action.get("instanceId"))
        leaf.parent = self

    def child_done(self, child: Node, seq: Sequencer) -> None:
        assert isinstance(child, Leaf)
        if child.task_id in self.timers:
            if self.final:
                seq.settle(self, FAILED)
            else:
                self._attempt(seq)
            return
        if child.state == SUCCEEDED:
            seq.settle(self, SUCCEEDED)
            return
        # Every failed attempt is followed by a timer; after the last attempt DTFx still schedules one
        # ("dummy timer for back-compat", due at once) before the failure reaches the orchestrator.
        self.final = self.attempts >= self.max_attempts
        now = seq.now
        fire_at = now if self.final else now + self.interval
        timer = seq.new_leaf(TIMER, fire_at=format_ts(fire_at))
        timer.parent = self
        self.timers.add(timer.task_id)  # type: ignore[arg-type]


class Sequencer:
    """Replays actions against a history the way the extension does, allocating sequence ids."""

    def __init__(self, actions: list[dict[str, Any]], execution_id: str) -> None:
        self.actions = actions
        self.execution_id = execution_id
        self.leaves: list[Leaf] = []
        self.by_id: dict[int, Leaf] = {}
        self.conflicts: list[str] = []
        self.now: datetime = datetime.min
        self._next_id = 0
        self._cursor = 0
        self._current: Node | None = None
        self._started = False
        self._waiters: dict[str, list[Leaf]] = defaultdict(list)
        self._buffered: dict[str, deque[dict[str, Any]]] = defaultdict(deque)

    @property
    def held_back(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(the yield this replay still waits on, the SDK's next yield) when the SDK went past a yield the extension
        has not finished: a task_any over tasks yielded before lists only its new tasks in its action, so the
        extension waits for those alone while the SDK goes on when an earlier task ends. None when in step."""
        # Only a task_any: a task_all the SDK leaves early (a task failed: it fails at once, the extension waits for
        # every task) holds back what follows too, but only until its tasks end (a failed round's finish_stream).
        if 0 < self._cursor < len(self.actions) and self.actions[self._cursor - 1].get("actionType") == A.WHEN_ANY:
            return self.actions[self._cursor - 1], self.actions[self._cursor]
        return None

    def replay(self, events: list[dict[str, Any]]) -> Sequencer:
        """Feed every history event in order; returns self for chaining."""
        for event in events:
            self.feed(event)
        return self

    def feed(self, event: dict[str, Any]) -> None:
        """Apply one history event."""
        event_type = event["EventType"]
        if event_type == T.ORCHESTRATOR_STARTED:
            self.now = parse_ts(event["Timestamp"])
        elif event_type == T.EXECUTION_STARTED:
            self._started = True
            self._advance()
        elif event_type == T.EVENT_RAISED:
            self._raise(event)
        elif event_type in _SETTLES:
            kind, outcome = _SETTLES[event_type]
            leaf = self.by_id.get(completion_id(event))  # type: ignore[arg-type]
            if leaf is None or leaf.kind != kind:
                got = "nothing" if leaf is None else leaf.describe()
                self.conflicts.append(f"history completes task {completion_id(event)} as a {kind}, "
                                      f"but the orchestrator's task {completion_id(event)} is {got}")
            elif leaf.state == RUNNING:
                self.settle(leaf, outcome)

    def new_leaf(self, kind: str, **fields: Any) -> Leaf:
        """Create a leaf; all but event waits take the next sequence id."""
        task_id = None
        if kind != EVENT:
            task_id = self._next_id
            self._next_id += 1
        leaf = Leaf(kind, task_id, **fields)
        if kind == SUBORCH and not leaf.instance_id:
            # DTFx names an unnamed sub-orchestration after the parent execution and the sequence id.
            leaf.instance_id = f"{self.execution_id}:{task_id}"
        if task_id is not None:
            self.leaves.append(leaf)
            self.by_id[task_id] = leaf
        return leaf

    def settle(self, node: Node, state: str) -> None:
        """Move a running node to a final state and propagate upwards."""
        if node.state != RUNNING:
            return
        node.state = state
        if node.parent is not None:
            node.parent.child_done(node, self)
        elif node is self._current:
            self._advance()

    def _advance(self) -> None:
        # The shim awaits each top-level action before invoking the next one.
        while self._started and self._cursor < len(self.actions) and (
                self._current is None or self._current.state != RUNNING):
            action = self.actions[self._cursor]
            self._cursor += 1
            self._current = self._invoke(action)

    def _invoke(self, action: dict[str, Any]) -> Node:
        kind = action.get("actionType")
        if kind == A.CALL_ACTIVITY:
            return self.new_leaf(ACTIVITY, name=action.get("functionName"), input_json=action.get("input"))
        if kind == A.CALL_SUB_ORCHESTRATOR:
            return self.new_leaf(SUBORCH, name=action.get("functionName"), input_json=action.get("input"),
                                 instance_id=action.get("instanceId"))
        if kind == A.CALL_ACTIVITY_WITH_RETRY:
            return _Retry(ACTIVITY, action, self)
        if kind == A.CALL_SUB_ORCHESTRATOR_WITH_RETRY:
            return _Retry(SUBORCH, action, self)
        if kind == A.CONTINUE_AS_NEW:
            return _Done()
        if kind == A.CREATE_TIMER:
            canceled = bool(action.get("isCanceled"))
            leaf = self.new_leaf(TIMER, fire_at=format_ts(parse_ts(action["fireAt"])), canceled=canceled)
            if canceled:
                # The shim cancels the timer's token right away, which completes the .NET task.
                self.settle(leaf, CANCELED)
            return leaf
        if kind == A.WAIT_FOR_EXTERNAL_EVENT:
            name = action.get("externalEventName") or ""
            leaf = self.new_leaf(EVENT, name=name)
            if self._buffered[name]:
                self._buffered[name].popleft()
                self.settle(leaf, SUCCEEDED)
            else:
                self._waiters[name].append(leaf)
            return leaf
        if kind in (A.WHEN_ALL, A.WHEN_ANY):
            children = [self._invoke(child) for child in action.get("compoundActions") or []]
            node: Node = _WhenAll(children) if kind == A.WHEN_ALL else _WhenAny(children)
            for child in children:
                child.parent = node
            if not children:
                node.state = SUCCEEDED
            elif kind == A.WHEN_ALL and all(c.state != RUNNING for c in children):
                node.child_done(children[-1], self)
            elif kind == A.WHEN_ANY and any(c.state != RUNNING for c in children):
                node.child_done(children[0], self)
            return node
        raise UnsupportedAction(
            f"devhost does not support the {ACTION_NAMES.get(kind, kind)} action (entities and call_http "
            "are not implemented by the local host)")

    def _raise(self, event: dict[str, Any]) -> None:
        name = event.get("Name") or ""
        waiters = self._waiters[name]
        # Like the extension (and the SDK), the most recent waiter for a name receives the event.
        while waiters:
            leaf = waiters.pop()
            if leaf.state == RUNNING:
                self.settle(leaf, SUCCEEDED)
                return
        self._buffered[name].append(event)
