"""A source that lives outside plugins/ and brings an HTTP route: installed only through BIZ_EXTRA_PLUGINS.

It syncs nothing; the registry tests use it to show that a plugin is found, with its router, without an edit
outside its own module (the API app includes each installed plugin's `router`).
"""

from __future__ import annotations

from fastapi import APIRouter

from plugins.base import BasePlugin

router = APIRouter(prefix="/api/connections/routed-example")


@router.get("/hello")
def routed_example_hello() -> str:
    return "hello"


class RoutedSource(BasePlugin):
    name = "routed-example"
    router = router


PLUGIN = RoutedSource()
