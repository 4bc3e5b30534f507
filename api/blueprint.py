"""The API's blueprint, registered by function_app.py."""

import azure.durable_functions as df

bp = df.Blueprint()
