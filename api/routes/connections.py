"""Connections: list them with health, token dates and budgets; create, change and reconnect one; reconcile
its metrics against the source's own reports. Each source's specifics come from its plugin's hooks."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import psycopg
from fastapi import APIRouter, Depends, status

from api.auth import Principal, check_connection, requires
from api.auth.principal import CONNECTIONS_ADMIN, METRICS_READ
from api.deps import database, visible_connection
from api.models.budgets import BudgetOut, LiveBudgetOut
from api.models.common import ConnectionIdPath
from api.models.connections import (
    ConnectionCreate,
    ConnectionList,
    ConnectionOut,
    ConnectionUpdate,
    Health,
    OAuthTokens,
    Reconciliation,
    ReconciliationLine,
    ReconnectLink,
)
from api.problems import MEDIA_TYPE, Problem, ProblemBody
from api.routes.budgets import connection_budgets, connection_live_budgets
from plugins import registry
from plugins.base import SourcePlugin
from shared.db import audit
from shared.db.connections import (
    Connection,
    ConnectionRecord,
    connection_record,
    connection_records,
    create_connection,
    update_connection,
)
from shared.tokens.connection_secrets import save_secret, stored_names
from shared.tokens.crypto import CryptoError, Keyring
from shared.tokens.reencrypt import key_usage
from shared.tokens.store import load_info

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/connections", tags=["connections"])

_CONFLICT = {409: {"model": ProblemBody, "content": {MEDIA_TYPE: {}}, "description": "Conflict"}}
_UNAVAILABLE = {503: {"model": ProblemBody, "content": {MEDIA_TYPE: {}},
                      "description": "The encryption key for stored credentials is not configured"}}
_HINT = "see GET /api/connections"


# -- reading ------------------------------------------------------------------------------------------------------
def _plugin(name: str) -> SourcePlugin | None:
    try:
        return registry.get(name)
    except registry.UnknownPlugin:
        return None


def _view(db: psycopg.Connection, record: ConnectionRecord, now: dt.datetime) -> ConnectionOut:
    connection = record.connection
    plugin = _plugin(connection.plugin)
    warnings: list[str] = []
    info = load_info(db, connection.connection_id)
    budgets: list[BudgetOut] = []
    live_budgets: list[LiveBudgetOut] = []
    if plugin is None:
        warnings.append(f"The plugin {connection.plugin!r} is not installed: this connection cannot sync")
        settings: dict[str, Any] = {}
    else:
        settings = plugin.public_settings(connection.config)
        if info is not None:
            warnings += plugin.connection_warnings(info)
        try:
            plugin.check_settings(connection)
            budgets = connection_budgets(db, plugin, connection, now)
            live_budgets = connection_live_budgets(db, plugin, connection)
        except (ValueError, TypeError) as exc:
            warnings.append(f"Settings need fixing: {exc}")
    if info is None and connection.config.get("auth") == "oauth":
        warnings.append("No OAuth tokens are stored: connect this account")
    oauth = None if info is None else OAuthTokens(
        consented_at=info.consented_at, access_expires_at=info.access_expires_at,
        refresh_expires_at=info.refresh_expires_at, last_refreshed_at=info.last_refreshed_at,
        refresh_count=info.refresh_count)
    return ConnectionOut(
        connection_id=connection.connection_id, plugin=connection.plugin, display_name=connection.display_name,
        health=Health(status=record.status, reason=record.status_reason, changed_at=record.status_changed_at,
                      enabled=record.enabled),
        settings=settings, stored_credentials=sorted(stored_names(db, connection.connection_id)), oauth=oauth,
        budgets=budgets, live_budgets=live_budgets, warnings=warnings, created_at=record.created_at)


@router.get("", response_model=ConnectionList, summary="Every connection with its health, tokens and budgets",
            description="Connections the credential may use (an API key with a connection allow-list sees only "
                        "those), with health, OAuth token dates, warnings and what each metered budget has left. "
                        "Never credentials, nor the names of the secrets holding them.")
def list_connections(principal: Principal = Depends(requires(METRICS_READ)),
                     db: psycopg.Connection = Depends(database)) -> ConnectionList:
    now = dt.datetime.now(dt.UTC)
    records = connection_records(db, principal.connections)
    return ConnectionList(connections=[_view(db, record, now) for record in records],
                          sealed_with=key_usage(db) if principal.connections is None else None)


@router.get("/{connection_id}", response_model=ConnectionOut, summary="One connection",
            description="The connection as the listing shows it; 404 `connection_not_found` for an unknown id, "
                        "403 `connection_forbidden` outside the credential's allow-list.")
def get_connection(connection_id: ConnectionIdPath, principal: Principal = Depends(requires(METRICS_READ)),
                   db: psycopg.Connection = Depends(database)) -> ConnectionOut:
    return _view(db, visible_connection(db, principal, connection_id), dt.datetime.now(dt.UTC))


# -- changing -----------------------------------------------------------------------------------------------------
def _checked(plugin: SourcePlugin, connection: Connection) -> None:
    try:
        plugin.check_settings(connection)
    except (ValueError, TypeError) as exc:
        raise Problem(422, "invalid_settings", f"settings: {exc}") from None


def _credential_name(plugin: SourcePlugin) -> str:
    """The name of the plugin's write-only credential (what `api_token` is to it)."""
    if not plugin.stored_credentials:
        raise Problem(422, "credential_not_supported",
                      f"Plugin {plugin.name!r} takes no api_token; configure its credentials in its settings")
    return plugin.stored_credentials[0]


def _store_credential(db: psycopg.Connection, plugin: SourcePlugin, connection_id: str, value: str) -> str:
    """Seal the plugin's write-only credential with the current key; returns its name."""
    name = _credential_name(plugin)
    try:
        keyring = Keyring.from_secrets()
    except CryptoError:
        log.error("cannot store a credential for connection %s: the token encryption key is not usable",
                  connection_id)
        raise Problem(503, "encryption_unavailable",
                      "Credentials cannot be stored now: the encryption key is not configured") from None
    save_secret(db, connection_id, name, value, keyring)
    return name


def _with_stored_flags(plugin: SourcePlugin, config: dict[str, Any], stored: frozenset[str]) -> dict[str, Any]:
    """The config with `<credential>_stored` set for each credential kept encrypted, and only for those: the flag
    tells the plugin to use the stored value; callers cannot set it."""
    config = {k: v for k, v in config.items() if k not in {f"{n}_stored" for n in plugin.stored_credentials}}
    return config | {f"{name}_stored": True for name in plugin.stored_credentials if name in stored}


@router.post("", response_model=ConnectionOut, status_code=status.HTTP_201_CREATED, responses=_CONFLICT | _UNAVAILABLE,
             summary="Create a connection",
             description="A connection of an installed plugin (422 `unknown_plugin` otherwise) with settings the "
                         "plugin accepts (422 `invalid_settings`); 409 `connection_exists` when the id is taken. "
                         "`api_token`, for plugins that take one, is stored encrypted and never returned.")
def create(body: ConnectionCreate, principal: Principal = Depends(requires(CONNECTIONS_ADMIN)),
           db: psycopg.Connection = Depends(database)) -> ConnectionOut:
    check_connection(principal, body.connection_id)
    plugin = _plugin(body.plugin)
    if plugin is None:
        raise Problem(422, "unknown_plugin", f"No plugin named {body.plugin!r}; installed: "
                                             f"{', '.join(registry.names())}")
    stored = frozenset({_credential_name(plugin)}) if body.api_token else frozenset()
    connection = Connection(body.connection_id, plugin.name, body.display_name,
                            _with_stored_flags(plugin, body.settings, stored))
    _checked(plugin, connection)
    if not create_connection(db, connection, enabled=body.enabled):
        raise Problem(409, "connection_exists", f"Connection {body.connection_id!r} exists; change it with PATCH")
    if body.api_token:
        _store_credential(db, plugin, body.connection_id, body.api_token)
    audit.record(db, principal.actor, "connection.created", body.connection_id,
                 {"plugin": plugin.name, "enabled": body.enabled, "settings": sorted(body.settings),
                  "credentials_set": sorted(stored)})
    record = connection_record(db, body.connection_id)
    assert record is not None
    return _view(db, record, dt.datetime.now(dt.UTC))


@router.patch("/{connection_id}", response_model=ConnectionOut, responses=_UNAVAILABLE,
              summary="Change a connection: name, enabled, settings, API token",
              description="Fields left out stay as they are; `settings` replaces the settings whole and is checked "
                          "by the plugin. `enabled: false` disables the connection (kept, never synced). "
                          "`api_token` rotates the stored token (write-only).")
def change(connection_id: ConnectionIdPath, body: ConnectionUpdate,
           principal: Principal = Depends(requires(CONNECTIONS_ADMIN)),
           db: psycopg.Connection = Depends(database)) -> ConnectionOut:
    record = visible_connection(db, principal, connection_id)
    plugin = _plugin(record.connection.plugin)
    if plugin is None:
        raise Problem(409, "plugin_not_installed", f"Connection {connection_id!r} belongs to plugin "
                                                   f"{record.connection.plugin!r}, which is not installed")
    stored = stored_names(db, connection_id)
    if body.api_token:
        stored |= {_store_credential(db, plugin, connection_id, body.api_token)}
    config = None
    if body.settings is not None or body.api_token:
        base = body.settings if body.settings is not None else record.connection.config
        config = _with_stored_flags(plugin, base, stored)
        _checked(plugin, Connection(connection_id, plugin.name, body.display_name or record.connection.display_name,
                                    config))
    update_connection(db, connection_id, display_name=body.display_name, enabled=body.enabled, config=config)
    changed = sorted(name for name, value in (("display_name", body.display_name), ("enabled", body.enabled),
                                              ("settings", body.settings), ("api_token", body.api_token))
                     if value is not None)
    audit.record(db, principal.actor, "connection.changed", connection_id,
                 {"fields": changed, **({"enabled": body.enabled} if body.enabled is not None else {})})
    updated = connection_record(db, connection_id)
    assert updated is not None
    return _view(db, updated, dt.datetime.now(dt.UTC))


@router.get("/{connection_id}/reconnect-url", response_model=ReconnectLink, responses=_CONFLICT,
            summary="Where an operator reconnects an OAuth account",
            description="The path (on this API) that starts the source's consent flow for this connection; "
                        "409 `not_oauth` for a source without one.")
def reconnect_url(connection_id: ConnectionIdPath, principal: Principal = Depends(requires(CONNECTIONS_ADMIN)),
                  db: psycopg.Connection = Depends(database)) -> ReconnectLink:
    record = visible_connection(db, principal, connection_id)
    plugin = _plugin(record.connection.plugin)
    path = plugin.reconnect_path(record.connection) if plugin is not None else None
    if path is None:
        raise Problem(409, "not_oauth", f"Connection {connection_id!r} does not connect through OAuth consent")
    return ReconnectLink(connection_id=connection_id, url=path)


@router.get("/{connection_id}/reconciliation", response_model=Reconciliation, responses=_CONFLICT,
            summary="The metrics against the source's own reports",
            description="Monthly computed totals against what the source reports for the same months (e.g. a "
                        "profit and loss report), with the difference; 409 `not_supported` for a source without "
                        "such a report.")
def reconciliation(connection_id: ConnectionIdPath, principal: Principal = Depends(requires(METRICS_READ)),
                   db: psycopg.Connection = Depends(database)) -> Reconciliation:
    record = visible_connection(db, principal, connection_id)
    plugin = _plugin(record.connection.plugin)
    rows = plugin.reconciliation(db, connection_id) if plugin is not None else None
    if rows is None:
        raise Problem(409, "not_supported", f"The source of connection {connection_id!r} has no report to "
                                            "reconcile the metrics with")
    return Reconciliation(connection_id=connection_id, lines=[
        ReconciliationLine(month=r.month, measure=r.measure, computed=str(r.computed), reported=str(r.reported),
                           difference=str(r.difference)) for r in rows])
