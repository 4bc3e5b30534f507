"""Throwaway PostgreSQL and Azurite of a test's own, started and restarted by scripts/services.sh.

The fault tests restart these in the middle of a sync. They never touch the shared services in .local, which
other sessions use: every instance gets its own state folder (BIZ_LOCAL_DIR), its own free ports and, as root, its
own cluster run by the same non-root user as the project's (the script decides, exactly as for .local).
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "scripts" / "services.sh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class OwnServices:
    """A state folder and ports; `run("start", "postgres")` drives scripts/services.sh against them."""

    folder: Path
    knobs: dict[str, str]

    def run(self, *args: str, timeout: float = 180) -> str:
        done = subprocess.run(["bash", str(SERVICES), *args], cwd=ROOT, env={**os.environ, **self.knobs},
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)
        assert done.returncode == 0, f"services.sh {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def restart(self, name: str) -> None:
        """Stop (PostgreSQL: pg_ctl stop -m fast; Azurite: SIGTERM) and start again, on the same data."""
        self.run("stop", name)
        self.run("start", name)

    def env(self) -> dict[str, str]:
        """What `services.sh env` exports for these services (each role's DSN, the storage connection string)."""
        values = {}
        for line in self.run("env").splitlines():
            key, _, value = shlex.split(line)[1].partition("=")
            values[key] = value
        return values


@contextmanager
def own_services(*names: str) -> Iterator[OwnServices]:
    """Start the named services (postgres, azurite) in a folder of their own; stop them and delete it afterwards."""
    # Under /tmp and world-searchable: as root the cluster runs as the project's non-root user, who must reach it.
    folder = Path(tempfile.mkdtemp(prefix="bizfaults-", dir="/tmp"))
    folder.chmod(0o755)
    knobs = {"BIZ_LOCAL_DIR": str(folder), "BIZ_PG_PORT": str(free_port()), "BIZ_AZ_BLOB_PORT": str(free_port()),
             "BIZ_AZ_QUEUE_PORT": str(free_port()), "BIZ_AZ_TABLE_PORT": str(free_port())}
    services = OwnServices(folder, knobs)
    try:
        services.run("start", *names)
        yield services
    finally:
        try:
            services.run("stop", *names)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
