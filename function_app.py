"""Composition root: the Durable Functions app with one blueprint per area."""

import azure.durable_functions as df
import azure.functions as func

import activities
import api
import orchestrators
from shared.telemetry import configure_telemetry

configure_telemetry()

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(orchestrators.bp)
app.register_functions(activities.bp)
app.register_functions(api.bp)
