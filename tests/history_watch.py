"""The largest history any orchestration execution held during a test, read from the local host's store.

devhost keeps one instance's current execution in its `history` table and drops it when the instance continues as
new (Store.commit_episode with reset_history). So the watch reads the stored history just before each such reset,
and every instance's stored history at the end."""

from __future__ import annotations

from typing import Any

from devhost.store import EpisodeCommit, Store


class HistoryWatch:
    """Attach to a host's store before the run; `largest()` after it."""

    def __init__(self, host: Any) -> None:
        self.store: Store = host.store
        self.dropped: dict[str, int] = {}  # instance -> largest history of an execution that continued as new
        commit = self.store.commit_episode

        def watched(episode: EpisodeCommit) -> bool:
            if episode.reset_history:
                # The events of this last episode were delivered but are not appended: count them too.
                held = len(self.store.history(episode.instance_id)) + len(episode.consumed)
                self.dropped[episode.instance_id] = max(held, self.dropped.get(episode.instance_id, 0))
            return commit(episode)

        self.store.commit_episode = watched  # type: ignore[method-assign]

    def sizes(self) -> dict[str, int]:
        """Every instance's largest execution history (events)."""
        sizes = dict(self.dropped)
        for instance in self.store.list_instances():
            held = len(self.store.history(instance.instance_id))
            sizes[instance.instance_id] = max(held, sizes.get(instance.instance_id, 0))
        return sizes

    def largest(self) -> tuple[int, str]:
        """(events, instance id) of the largest history."""
        return max((events, instance) for instance, events in self.sizes().items())
