"""The HTTP API (a FastAPI app: api/app.py) and the Functions that serve it and start timed syncs.

function_app.py registers `api.functions` (the HTTP bridge), `api.schedule` (the timer) and `api.changes` (the change
queue's trigger) on `api.blueprint.bp`.
"""
