"""monday.com source plugin."""

from plugins.monday.plugin import MondayPlugin

PLUGIN = MondayPlugin()
