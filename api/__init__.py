"""The HTTP API (a FastAPI app: api/app.py) and the Functions that serve it and start timed syncs.

function_app.py registers `api.functions` (the HTTP bridge) and `api.schedule` (the timer) on `api.blueprint.bp`.
"""
