"""QuickBooks Online source plugin."""

from plugins.quickbooks.plugin import QuickBooksPlugin

PLUGIN = QuickBooksPlugin()
