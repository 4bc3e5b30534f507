"""The Bizmetrics data source for a Grafana that is not provisioned from files (Azure Managed Grafana):
`python -m grafana.azure datasource --host <server>` prints the definition `az grafana data-source create
--definition` takes.

The definition is read from the provisioning file (grafana/provisioning/datasources/bizmetrics.yaml), so both
paths create the same data source: uid `bizmetrics-pg` (the generated dashboards name it), the same type, user and
settings; its `${...}` placeholders are filled from the options. Without `--password-from-env` the password is
left out: the output is safe to keep in a file. With it, the password is read from the environment variable the
provisioning file names (BIZ_GRAFANA_DB_PASSWORD) and written to standard output only when that is a pipe, so it
goes from the environment straight into `az` (docs/deployment.md, section 9), never into a file or a terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any

import yaml

PROVISIONING_FILE = Path(__file__).with_name("provisioning") / "datasources" / "bizmetrics.yaml"
PASSWORD_VARIABLE = "BIZ_GRAFANA_DB_PASSWORD"
# Keys that only Grafana's file provisioning understands; the HTTP API (what `az grafana` calls) has no such field.
PROVISIONING_ONLY = ("editable",)
SSL_MODES = ("verify-full", "verify-ca", "require")
_PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")


class DefinitionError(ValueError):
    """The definition cannot be made as asked; the message says why (it never holds the password)."""


def provisioned_datasource(path: Path | None = None) -> dict[str, Any]:
    """The Bizmetrics data source as the provisioning file declares it, placeholders unfilled."""
    text = (path or PROVISIONING_FILE).read_text(encoding="utf-8")
    (datasource,) = [d for d in yaml.safe_load(text)["datasources"]
                     if d.get("uid") == "bizmetrics-pg"]
    return datasource


def _fill(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: _fill(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(value, values) for value in node]
    if isinstance(node, str):
        missing = [name for name in _PLACEHOLDER.findall(node) if name not in values]
        if missing:
            raise DefinitionError(f"the provisioning file names {', '.join(missing)}, which this command does not "
                                  "fill; add it to grafana/azure.py")
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], node)
    return node


def datasource_definition(host: str, port: int = 5432, database: str = "bizmetrics", sslmode: str = "verify-full",
                          password: str | None = None) -> dict[str, Any]:
    """The data source for Grafana's HTTP API; the password (secureJsonData) only when one is given."""
    if not host or any(c in host for c in "/:@ ") or port <= 0:
        raise DefinitionError("--host is the server's name alone (postgresFqdn), and --port a positive number")
    if sslmode not in SSL_MODES:
        raise DefinitionError(f"--sslmode must be one of {', '.join(SSL_MODES)}: the Azure server requires TLS")
    declared = provisioned_datasource()
    secure = declared.pop("secureJsonData", {})
    for key in PROVISIONING_ONLY:
        declared.pop(key, None)
    values = {"BIZ_GRAFANA_DB_HOST": f"{host}:{port}", "BIZ_GRAFANA_DB_NAME": database,
              "BIZ_GRAFANA_DB_SSLMODE": sslmode}
    definition = _fill(declared, values)
    if password is not None:
        definition["secureJsonData"] = _fill(secure, {**values, PASSWORD_VARIABLE: password})
    return definition


def _stdout_is_a_pipe() -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(sys.stdout.fileno()).st_mode)
    except (OSError, ValueError):  # no file descriptor (an embedded interpreter): not a pipe we can vouch for
        return False


def _datasource(args: argparse.Namespace) -> int:
    password = None
    if args.password_from_env:
        password = os.environ.get(PASSWORD_VARIABLE, "")
        if not password:
            raise DefinitionError(f"--password-from-env: {PASSWORD_VARIABLE} is not set or empty")
        if not _stdout_is_a_pipe():
            raise DefinitionError("--password-from-env writes the password only into a pipe (e.g. "
                                  "`--definition <(...)`), never into a file or onto a terminal")
    definition = datasource_definition(args.host, args.port, args.database, args.sslmode, password)
    json.dump(definition, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grafana.azure", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    datasource = commands.add_parser("datasource", help="print the data source definition for az grafana",
                                     description="Print the Bizmetrics data source definition (JSON) for "
                                                 "`az grafana data-source create --definition`.")
    datasource.add_argument("--host", required=True, help="the PostgreSQL server's name (postgresFqdn output)")
    datasource.add_argument("--port", type=int, default=5432)
    datasource.add_argument("--database", default="bizmetrics", help="default: bizmetrics (postgresDatabase)")
    datasource.add_argument("--sslmode", choices=SSL_MODES, default="verify-full",
                            help="default: verify-full (the server's certificate and name are checked)")
    datasource.add_argument("--password-from-env", action="store_true",
                            help=f"include the password from {PASSWORD_VARIABLE}; only when standard output is a pipe")
    args = parser.parse_args(argv)
    try:
        return _datasource(args)
    except DefinitionError as error:
        print(f"grafana.azure: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
