"""`python -m api.auth ...`: see api/auth/cli.py."""

import sys

from api.auth.cli import main

sys.exit(main())
