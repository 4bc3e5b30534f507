"""Composition root: the Durable Functions app with one blueprint per area and each plugin's own routes."""

import azure.durable_functions as df
import azure.functions as func

import activities
import api
import orchestrators
from shared.core.telemetry import configure_telemetry

configure_telemetry()

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(orchestrators.bp)
app.register_functions(activities.bp)
app.register_functions(api.bp)
# A source's routes (e.g. OAuth consent) live in its plugin as a FastAPI router (plugin.router): the API app
# includes them.
