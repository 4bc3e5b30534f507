"""The timer starter: an incremental sync of every connection on the SYNC_SCHEDULE (NCRONTAB) setting."""

from __future__ import annotations

import logging

import azure.durable_functions as df
import azure.functions as func

from api.blueprint import bp
from api.starting import start_sync

log = logging.getLogger(__name__)


@bp.timer_trigger(schedule="%SYNC_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
@bp.durable_client_input(client_name="client")
async def scheduled_sync(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    outcome = await start_sync(client, "all", "incremental", trigger="timer")
    if outcome.started:
        log.info("scheduled sync started: run %s", outcome.run_id)
    else:
        log.warning("scheduled sync skipped: %s is still running", outcome.blocking_instance)
