"""The database roles (created by migration 0028) and DSNs that log in as one of them."""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict, make_conninfo

OWNER_ROLE = "bizmetrics_owner"  # owns the schema's objects; runs the migrations (a deploy step)
APP_ROLE = "bizmetrics_app"  # the Functions app and the API: DML on the app's tables, owns nothing
READER_ROLE = "bizmetrics_reader"  # NOLOGIN, SELECT on the metric and audit tables
GRAFANA_ROLE = "bizmetrics_grafana"  # Grafana's login, a member of READER_ROLE
RUNTIME_ROLES = (APP_ROLE, READER_ROLE, GRAFANA_ROLE)


def as_role(dsn: str, role: str, password: str | None = None) -> str:
    """`dsn` with its user replaced by `role` (and its password by `password`, or dropped)."""
    params = {k: v for k, v in conninfo_to_dict(dsn).items() if k != "password"}
    params["user"] = role
    if password:
        params["password"] = password
    return make_conninfo("", **params)
