"""The operator's command line for the HTTP API (`python -m api.client`, see cli.py): it only speaks HTTP, so it
works the same against the app in Azure and the local `make api` server."""
