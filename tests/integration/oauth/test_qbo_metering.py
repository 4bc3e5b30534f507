"""Intuit meters calls per app, token refreshes included: a fetch's client counts the refresh it needed, and
connections are metered per Intuit app (their own, or the app-wide one). Real PostgreSQL, real simulator."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp

from plugins.quickbooks.plugin import QuickBooksPlugin

from .conftest import Sim


async def _open(made) -> int:
    async with aiohttp.ClientSession() as session:
        api = await QuickBooksPlugin().open_api(made.connection, session)
        return api.calls


def test_a_token_refresh_is_counted_as_a_call_of_the_fetch_that_needed_it(sim: Sim, qbo_connection):
    made = qbo_connection(sim, access_expires_in=timedelta(seconds=-60))
    assert asyncio.run(_open(made)) == 1  # the refresh, before any API request
    assert sim.refresh_calls() == [200]
    assert asyncio.run(_open(made)) == 0  # the fresh token serves the next fetch without a call
