"""`python -m api.client ...`: see api/client/cli.py."""

import sys

from api.client.cli import main

sys.exit(main())
