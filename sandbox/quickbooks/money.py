"""Money as QBO's JSON shows it: decimal amounts as JSON numbers, computed here in integer cents."""

from __future__ import annotations


def to_money(cents: int) -> int | float:
    # QBO writes a zero amount as `0` and others with their decimals (`639.00`); integer cents
    # keep sums exact, and cents/100 gives the shortest float that round-trips to the same decimal.
    return 0 if cents == 0 else cents / 100


def to_cents(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return round(value * 100)
