"""The helpdesk's metrics over helpdesk_ticket, bucketed by the local date a ticket was opened (its created_at
in the connection's `timezone`); deleted tickets count nowhere."""

from __future__ import annotations

from shared.metrics.catalog import LIVE, Aggregation, Metric, PluginMetrics, Source, Unit

PLUGIN = "helpdesk"
READS = ("r.created_at", "r.amount", "r.status", "r.deleted_at")
OPENED = Source("helpdesk_ticket", "r.created_at", live=LIVE, filters=("r.created_at IS NOT NULL",), reads=READS,
                timestamp=True, dimensions=(("status", "r.status"),))
AMOUNT = Source("helpdesk_ticket", "r.created_at", "coalesce(r.amount, 0)", live=LIVE,
                filters=("r.created_at IS NOT NULL",), reads=READS, timestamp=True,
                dimensions=(("status", "r.status"),))

CATALOG = PluginMetrics(plugin=PLUGIN, metrics=(
    Metric("helpdesk.tickets_opened", "Tickets opened", PLUGIN, Aggregation.COUNT, Unit.COUNT, (OPENED,),
           "Tickets by the local date they were opened; per current status.", ("status",), ("support",)),
    Metric("helpdesk.ticket_amount", "Ticket amount", PLUGIN, Aggregation.SUM, Unit.HOME_CURRENCY, (AMOUNT,),
           "The amount of the tickets opened in the bucket; per current status.", ("status",), ("support",)),
))
