# Bizmetrics: every target sets up what it needs (scripts/bootstrap.sh is idempotent and fast when done).
#   make demo        start the local services, run a full sync of the demo company through the local host
#   make test        start the local services, run the whole test suite
#   make stop        stop the local services
.PHONY: setup services stop status lint test unit demo demo-incremental clean-data

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

demo-incremental: services
	$(PY) -m devhost.demo --mode incremental

clean-data: stop
	@echo "clean-data: deleting local service data (.local/pg, .local/azurite)"
	@bash scripts/services.sh clean-data
