"""What a webhook leaves on the change queue: that something of a connection changed, never the change itself.

A source's webhook handler (in its plugin) verifies and maps each event to a connection and to the plugin's own
change hints (e.g. an entity name or a board id); the sync reads the real records.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.core.messages import Message


@dataclass(frozen=True)
class ChangeNotice(Message):
    """One accepted event: the connection it concerns and the plugin-defined hints of what changed.

    changed: empty means "something changed, the source does not say what" (an incremental run of everything);
    event_id: the source's own id of the event (events can repeat: the consumer may drop a repeat);
    received_at: ISO instant the webhook arrived (latency is measured from it).
    """

    connection_id: str
    source: str
    event_id: str
    received_at: str
    changed: list[str] = field(default_factory=list)
