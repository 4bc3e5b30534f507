"""An example source that lives only in the test suite: a helpdesk's tickets from a paged REST API.

It proves the plugin boundary: it is installed by BIZ_EXTRA_PLUGINS=tests.third_source alone and syncs through
the real orchestrators into its own table, with a metric of its own. plugins/README.md walks through it.
"""

from tests.third_source.plugin import HelpdeskPlugin

PLUGIN = HelpdeskPlugin()
