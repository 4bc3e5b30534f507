"""A source that lives outside plugins/ and brings an HTTP route: installed only through BIZ_EXTRA_PLUGINS.

It syncs nothing; the registry and function_app tests use it to show that a plugin is found, and its routes
registered, without an edit outside its own module.
"""

from __future__ import annotations

import azure.functions as func

from plugins.base import BasePlugin

bp = func.Blueprint()


@bp.route(route="connections/routed-example/hello", methods=["GET"])
def routed_example_hello_http(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("hello", status_code=200)


class RoutedSource(BasePlugin):
    name = "routed-example"
    blueprint = bp


PLUGIN = RoutedSource()
