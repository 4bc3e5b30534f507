"""A plugin (for tests/unit/test_metric_catalogs.py) that wrongly declares another plugin's metric catalog."""

from plugins.base import BasePlugin
from plugins.quickbooks.metrics import CATALOG


class StrayPlugin(BasePlugin):
    name = "stray"
    metrics = CATALOG


PLUGIN = StrayPlugin()
