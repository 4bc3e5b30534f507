# Bizmetrics: every target sets up what it needs (scripts/bootstrap.sh is idempotent and fast when done).
#   make demo        start the local services, run a full sync of the demo company through the local host,
#                    then show a webhook moving a metric (make demo-webhook repeats that step)
#   make test        start the local services, run the whole test suite
#   make api         serve the HTTP API on 127.0.0.1:8770 (docs at /api/docs) backed by the local services
#   make stop        stop the local services
.PHONY: setup services stop status lint test unit demo demo-incremental demo-webhook api clean-data

PY := .venv/bin/python

setup:
	@bash scripts/bootstrap.sh

services: setup
	@bash scripts/services.sh start

stop:
	@bash scripts/services.sh stop

status:
	@bash scripts/services.sh status

lint: setup
	.venv/bin/ruff check .

test: services
	.venv/bin/ruff check .
	$(PY) -m pytest

unit: setup
	$(PY) -m pytest tests/unit tests/devhost

demo: services
	$(PY) -m devhost.demo --mode full

# The API on http://127.0.0.1:8770 (docs at /api/docs), with its own local Durable host; Ctrl-C stops it.
api: services
	$(PY) -m devhost.api_server

demo-incremental: services
	$(PY) -m devhost.demo --mode incremental --no-webhook

# make demo's last step alone: a change in the QuickBooks simulator reaches a metric through its signed webhook.
demo-webhook: services
	$(PY) -m devhost.webhook_demo

clean-data: stop
	@echo "clean-data: deleting local service data (.local/pg, .local/azurite)"
	@bash scripts/services.sh clean-data
