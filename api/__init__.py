"""HTTP API and timer starters. Importing the package registers them on `bp`."""

from api import connections, metrics, schedule, syncs  # noqa: F401  (registration by import)
from api.blueprint import bp

__all__ = ["bp"]
