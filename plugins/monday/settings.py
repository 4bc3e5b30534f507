"""A monday connection's settings, read once from its config: what to sync, which API version, which plan.

Secrets never appear here: the config names the secret that holds the API token (`api_token_secret`), one of the
connection's own namespace, or says the token was given through the API and is stored encrypted with the connection
(`api_token_stored`); the API must be https on api.monday.com (loopback only while BIZ_ALLOW_LOOPBACK_SOURCES=true,
for the simulator): shared/core/egress.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from shared.core.egress import check_secret_name, check_url
from shared.core.http import RetryPolicy
from shared.db.connections import Connection

DEFAULT_BASE_URL = "https://api.monday.com"
API_HOSTS = frozenset({"api.monday.com"})
# monday's current version (since 2026-10-26), and the ones a connection may pin: every document the plugin
# sends is valid in each (tests validate them against both SDLs). 2026-04 and older are retired; 2026-07 is the
# oldest with the User shape the plugin reads (status, kind, is_deleted, became_active_at).
DEFAULT_API_VERSION = "2026-10"
SUPPORTED_API_VERSIONS = ("2026-07", "2026-10")
ITEM_PAGE_MAX = 500
LIST_PAGE_MAX = 1000  # users(limit:) at most 1,000
MAX_UPDATES_CHAINS = 16  # every chain holds a page of the account's minute budget in flight
# The stored credential's name, and the config flag the API sets while one is stored.
API_TOKEN = "api_token"
TOKEN_STORED = "api_token_stored"


@dataclass(frozen=True)
class PlanLimits:
    """An account's budgets (api-facts): daily calls reset 00:00 UTC; the others are per minute or in flight."""

    daily_calls: int
    requests_per_minute: int
    concurrency: int
    complexity_per_minute: int
    # The length of monday's "minute" (config limit_window_seconds): 60 s; a simulator may scale it down.
    window_seconds: float = 60.0


PLANS: dict[str, PlanLimits] = {
    "free": PlanLimits(1_000, 1_000, 40, 1_000_000),
    "basic": PlanLimits(1_000, 1_000, 40, 10_000_000),
    "standard": PlanLimits(1_000, 1_000, 40, 10_000_000),
    "pro": PlanLimits(10_000, 2_500, 100, 10_000_000),
    "enterprise": PlanLimits(25_000, 5_000, 250, 10_000_000),
}


@dataclass(frozen=True)
class MondaySettings:
    connection_id: str
    token_secret: str | None  # None: the token stored with the connection (token_stored) is used
    base_url: str
    api_version: str
    account_key: str
    plan: str
    limits: PlanLimits
    # Share of the daily cap syncs may spend; the rest stays for the account's other integrations.
    daily_share: float
    boards: tuple[str, ...] | None
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    all_board_columns: tuple[str, ...] | None = None
    status_columns: dict[str, str] = field(default_factory=dict)
    done_labels: tuple[str, ...] = ("Done",)
    item_page_size: int = ITEM_PAGE_MAX
    log_page_size: int = 1000
    list_page_size: int = 200
    board_page_size: int = 50
    # A complete read of the updates goes through at most this many chains of created ranges (update_chains.py).
    updates_chains: int = 4
    overlap_seconds: int = 3600
    log_overlap_seconds: int = 300
    skip_unchanged_boards: bool = True
    version_mismatch: str = "fail"
    max_inline_wait: float = 2.0
    # Share of the per-minute budgets (requests, complexity) syncs may spend, for the same reason.
    minute_share: float = 0.9
    max_restarts: int = 3
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # The API token was given through the API and is stored encrypted (shared/tokens/connection_secrets.py); it
    # wins over api_token_secret, so rotating it through the API takes effect whatever the config still names.
    token_stored: bool = False

    def columns_for(self, board_id: str) -> tuple[str, ...] | None:
        """The column ids to read on a board, or None for every column."""
        return self.columns.get(board_id, self.all_board_columns)


def _ids(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise ValueError(f"monday connection setting {what} must be a list of ids")
    return tuple(str(v) for v in value)


def _columns(raw: Any) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...] | None]:
    """`columns` is either one list for every board or {board id: [column ids]}."""
    if raw is None:
        return {}, None
    if isinstance(raw, list):
        return {}, _ids(raw, "columns")
    if isinstance(raw, dict):
        return {str(board): _ids(ids, f"columns.{board}") for board, ids in raw.items()}, None
    raise ValueError("monday connection setting columns must be a list of column ids or {board id: [column ids]}")


def _limits(config: dict[str, Any], plan: str) -> PlanLimits:
    base = PLANS[plan]
    return PlanLimits(
        daily_calls=int(config.get("daily_call_cap", base.daily_calls)),
        requests_per_minute=int(config.get("requests_per_minute", base.requests_per_minute)),
        concurrency=int(config.get("max_concurrency", base.concurrency)),
        complexity_per_minute=int(config.get("complexity_per_minute", base.complexity_per_minute)),
        window_seconds=float(config.get("limit_window_seconds", base.window_seconds)),
    )


def _base_url(config: dict[str, Any]) -> str:
    if config.get("base_url"):
        return check_url(config["base_url"], API_HOSTS, setting="base_url").rstrip("/")
    if os.environ.get("MONDAY_BASE_URL"):
        return check_url(os.environ["MONDAY_BASE_URL"], API_HOSTS, setting="App setting MONDAY_BASE_URL").rstrip("/")
    return DEFAULT_BASE_URL


def read_settings(connection: Connection) -> MondaySettings:
    """Validated settings; a ValueError says which setting to fix."""
    config = connection.config
    secret = config.get("api_token_secret")
    stored = config.get(TOKEN_STORED) is True
    if not stored and (not secret or not isinstance(secret, str)):
        raise ValueError(f"monday connection {connection.connection_id} needs api_token_secret "
                         "(the name of the secret holding the API token), or an api_token given through the API")
    try:
        if not stored:
            check_secret_name(secret, connection.connection_id, setting="api_token_secret")
        base_url = _base_url(config)
    except ValueError as exc:
        raise ValueError(f"monday connection {connection.connection_id}: {exc}") from None
    version = str(config.get("api_version") or os.environ.get("MONDAY_API_VERSION") or DEFAULT_API_VERSION)
    if version not in SUPPORTED_API_VERSIONS:
        raise ValueError(f"monday connection {connection.connection_id}: api_version {version!r} is not supported; "
                         f"set it to {' or '.join(SUPPORTED_API_VERSIONS)} (default {DEFAULT_API_VERSION}), "
                         "or leave it out")
    plan = str(config.get("plan", "standard")).lower()
    if plan not in PLANS:
        raise ValueError(f"monday connection {connection.connection_id}: plan must be one of {', '.join(PLANS)}")
    page = int(config.get("item_page_size", ITEM_PAGE_MAX))
    if not 1 <= page <= ITEM_PAGE_MAX:
        raise ValueError(f"monday connection {connection.connection_id}: item_page_size must be 1..{ITEM_PAGE_MAX}")
    mismatch = str(config.get("version_mismatch", "fail"))
    if mismatch not in ("fail", "accept"):
        raise ValueError(f"monday connection {connection.connection_id}: version_mismatch must be fail or accept")
    lists = int(config.get("list_page_size", 200))
    if not 1 <= lists <= LIST_PAGE_MAX:
        raise ValueError(f"monday connection {connection.connection_id}: list_page_size must be 1..{LIST_PAGE_MAX}")
    chains = int(config.get("updates_chains", 4))
    if not 1 <= chains <= MAX_UPDATES_CHAINS:
        raise ValueError(f"monday connection {connection.connection_id}: updates_chains must be "
                         f"1..{MAX_UPDATES_CHAINS}")
    share = float(config.get("daily_call_share", 0.9))
    if not 0 < share <= 1:
        raise ValueError(f"monday connection {connection.connection_id}: daily_call_share must be in (0, 1]")
    minute_share = float(config.get("minute_budget_share", 0.9))
    if not 0 < minute_share <= 1:
        raise ValueError(f"monday connection {connection.connection_id}: minute_budget_share must be in (0, 1]")
    per_board, every_board = _columns(config.get("columns"))
    boards = config.get("boards")
    return MondaySettings(
        connection_id=connection.connection_id,
        token_secret=secret if isinstance(secret, str) and secret else None,
        token_stored=stored,
        base_url=base_url,
        api_version=version,
        # Budgets belong to the monday account; connections to one account share them.
        account_key=str(config.get("account_id") or connection.connection_id),
        plan=plan,
        limits=_limits(config, plan),
        daily_share=share,
        boards=None if boards is None else _ids(boards, "boards"),
        columns=per_board,
        all_board_columns=every_board,
        status_columns={str(k): str(v) for k, v in (config.get("status_columns") or {}).items()},
        done_labels=tuple(str(v) for v in config.get("done_labels", ["Done"])),
        item_page_size=page,
        log_page_size=int(config.get("log_page_size", 1000)),
        list_page_size=lists,
        board_page_size=int(config.get("board_page_size", 50)),
        updates_chains=chains,
        overlap_seconds=int(config.get("overlap_seconds", 3600)),
        log_overlap_seconds=int(config.get("log_overlap_seconds", 300)),
        skip_unchanged_boards=bool(config.get("skip_unchanged_boards", True)),
        version_mismatch=mismatch,
        max_inline_wait=float(config.get("max_inline_wait_seconds", 2.0)),
        minute_share=minute_share,
        max_restarts=int(config.get("max_cursor_restarts", 3)),
        # monday ends every call after 60 s.
        retry=RetryPolicy.from_config(config, timeout=60),
    )
