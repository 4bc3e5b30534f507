"""Local Durable host: runs the app's orchestrators through the real azure-functions-durable 1.x SDK."""

from devhost.host import LocalDurableHost, StalledError

__all__ = ["LocalDurableHost", "StalledError"]
