"""Composition root: the Durable Functions app with one blueprint per area.

The whole HTTP API (including each plugin's own routes, such as an OAuth consent flow) is one FastAPI app behind one
anonymous HTTP function (api/functions.py): it authenticates every route itself, deny by default. The timer
(api/schedule.py) and the change queue's trigger (api/changes.py) start syncs on the same blueprint.
"""

import azure.durable_functions as df
import azure.functions as func

import activities
import api.changes
import api.functions
import api.schedule
import orchestrators
from shared.core.config import load_settings
from shared.core.logcontext import install_log_context
from shared.core.telemetry import configure_telemetry

install_log_context()
configure_telemetry()
# In Azure a missing database or storage setting stops the app here, naming the setting (MissingSetting), instead
# of every activity failing later against 127.0.0.1.
load_settings()

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(orchestrators.bp)
app.register_functions(activities.bp)
app.register_functions(api.functions.bp)
