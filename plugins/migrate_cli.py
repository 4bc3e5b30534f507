"""The deploy step: migrate the database (core, then every installed plugin) as the owner role.

    BIZ_PG_OWNER_DSN=postgresql://bizmetrics_owner@host/bizmetrics python -m plugins.migrate_cli
    python -m plugins.migrate_cli --check    # changes nothing; exit 1 naming what is not applied (any role may run it)

It lives here, not in shared/db/migrate.py, because only this floor knows which plugins are installed.
Run it before deploying new code (the app refuses to sync against an older schema) and whenever a plugin is added.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from plugins import registry
from shared.db.connect import connect
from shared.db.migrate import OWNER_DSN_SETTING, SchemaNotCurrent, check_schema, migrate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plugins.migrate_cli", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that every migration is applied")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    dsn = os.environ.get(OWNER_DSN_SETTING)
    if not dsn:
        print(f"{OWNER_DSN_SETTING} is not set: give the DSN of the owner role (bizmetrics_owner) that migrates "
              "the database (locally: eval \"$(scripts/services.sh env)\")", file=sys.stderr)
        return 2
    with connect(dsn, application_name="bizmetrics-migrate") as conn:
        if args.check:
            try:
                check_schema(conn, registry.migration_folders())
            except SchemaNotCurrent as exc:
                print(exc, file=sys.stderr)
                return 1
            print("The database schema is current.")
            return 0
        applied = migrate(conn, registry.migration_folders())
    print(f"Applied {len(applied)} migration(s): {', '.join(applied)}" if applied else "The schema was current.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
