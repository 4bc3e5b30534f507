"""Which 1,000 objects a full CDC response holds: Intuit documents the cap but not the choice.

A client must be correct whatever subset it gets, so the simulator can choose in each way a real
service plausibly might. "oldest" (across every entity asked for) is the default the rest of the suite
was written against; the others exist to prove a client does not depend on it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SELECTIONS = ("oldest", "by_entity", "newest", "random")
DEFAULT_SELECTION = "oldest"

# (LastUpdatedTime, position of the entity in the request, numeric Id, entity, record)
Change = tuple[datetime, int, int, str, dict[str, Any]]


@dataclass
class CdcSelection:
    """The current choice and, for "random", its seeded generator (one sequence across calls)."""

    mode: str = DEFAULT_SELECTION
    seed: int = 0
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self.set(self.mode, self.seed)

    def set(self, mode: str, seed: int | None = None) -> None:
        if mode not in SELECTIONS:
            raise ValueError(f"unknown CDC selection {mode!r}; expected one of {', '.join(SELECTIONS)}")
        self.mode = mode
        if seed is not None:
            self.seed = int(seed)
        self._random = random.Random(self.seed)

    def describe(self) -> dict[str, Any]:
        return {"selection": self.mode, "seed": self.seed}

    def choose(self, found: list[Change], limit: int) -> list[Change]:
        """At most `limit` of the changes, chosen by the mode; the order they are listed in is the chosen order."""
        if self.mode == "oldest":
            return sorted(found, key=lambda c: (c[0], c[1], c[2]))[:limit]
        if self.mode == "by_entity":
            return sorted(found, key=lambda c: (c[1], c[0], c[2]))[:limit]
        if self.mode == "newest":
            return sorted(found, key=lambda c: (c[0], c[1], c[2]), reverse=True)[:limit]
        ordered = sorted(found, key=lambda c: (c[1], c[2], c[0]))  # a stable base, so the seed alone decides
        return self._random.sample(ordered, min(limit, len(ordered)))
