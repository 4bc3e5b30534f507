"""Integration tests for scripts/services.sh (local PostgreSQL, Azurite, simulators).

They assume the services were started by the test command (`make test` runs `scripts/services.sh start`
first); the fixture below runs `start` again, which is idempotent and fast when everything is up, so the
module also works on its own. Services are left running at the end.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "scripts" / "services.sh"
PG_PORT = 54329
AZURITE_PORTS = (10000, 10001, 10002)
QBO_PORT = 8761
QBO_AVAILABLE = (REPO / "sandbox" / "quickbooks" / "__main__.py").is_file()


def run_services(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SERVICES), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def parse_env(output: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in output.splitlines():
        parts = shlex.split(line)
        assert parts[0] == "export", line
        key, _, value = parts[1].partition("=")
        env[key] = value
    return env


@pytest.fixture(scope="module")
def service_env() -> dict[str, str]:
    started = run_services("start")
    assert started.returncode == 0, f"services.sh start failed:\n{started.stdout}\n{started.stderr}"
    out = run_services("env")
    assert out.returncode == 0, out.stderr
    return parse_env(out.stdout)


def postmaster_pid(data_directory: str) -> int:
    # postmaster.pid: first line is the postmaster's pid (readable by root and by the cluster owner).
    return int(Path(data_directory, "postmaster.pid").read_text().splitlines()[0])


def proc_uids(pid: int) -> list[int]:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return [int(x) for x in line.split()[1:]]
    raise AssertionError(f"no Uid line for pid {pid}")


def listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) of LISTEN sockets on `port`."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            addr, port_hex = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and int(port_hex, 16) == port:
                found.add(addr)
    return found


def test_env_exports(service_env: dict[str, str]) -> None:
    def dsn(role: str) -> str:
        return f"postgresql://{role}@127.0.0.1:{PG_PORT}/bizmetrics"

    assert service_env["BIZ_PG_DSN_ADMIN"] == dsn("bizmetrics")
    assert service_env["BIZ_PG_DSN"] == dsn("bizmetrics_app")
    assert service_env["BIZ_PG_OWNER_DSN"] == dsn("bizmetrics_owner")
    assert service_env["BIZ_PG_READER_DSN"] == dsn("bizmetrics_grafana")
    conn = service_env["AzureWebJobsStorage"]
    for port in AZURITE_PORTS:
        assert f"http://127.0.0.1:{port}/devstoreaccount1" in conn
    assert "AccountName=devstoreaccount1" in conn
    assert service_env["QBO_BASE_URL"] == f"http://127.0.0.1:{QBO_PORT}"


def test_postgres_answers_as_bizmetrics(service_env: dict[str, str]) -> None:
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(service_env["BIZ_PG_DSN_ADMIN"], connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT current_user, current_database(), host(inet_server_addr()), inet_server_port(),"
            " current_setting('listen_addresses'), current_setting('fsync'),"
            " pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()"
        ).fetchone()
    assert row == ("bizmetrics", "bizmetrics", "127.0.0.1", PG_PORT, "127.0.0.1", "on", "UTF8")


def test_start_made_the_roles_and_migrated_the_database_as_the_owner(service_env: dict[str, str]) -> None:
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(service_env["BIZ_PG_DSN"], connect_timeout=5) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "bizmetrics_app"
        assert conn.execute("SELECT count(*) FROM schema_migrations WHERE name = '0028_database_roles'").fetchone()[0]
    with psycopg.connect(service_env["BIZ_PG_DSN_ADMIN"], connect_timeout=5) as conn:
        owners = {o for (o,) in conn.execute(
            "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class WHERE relnamespace = 'public'::regnamespace")}
    assert owners == {"bizmetrics_owner"}
    passwords = REPO / ".local" / "pg-roles.env"
    assert passwords.stat().st_mode & 0o777 == 0o600
    assert "BIZ_GRAFANA_DB_PASSWORD=" in passwords.read_text()


def test_postgres_does_not_run_as_root(service_env: dict[str, str]) -> None:
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(service_env["BIZ_PG_DSN_ADMIN"], connect_timeout=5) as conn:
        data_directory = conn.execute("SHOW data_directory").fetchone()[0]
        backend_pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        for pid in (postmaster_pid(data_directory), backend_pid):
            uids = proc_uids(pid)
            assert all(uid != 0 for uid in uids), f"postgres pid {pid} runs with uids {uids}"
    if os.geteuid() == 0:
        import pwd

        assert pwd.getpwuid(proc_uids(postmaster_pid(data_directory))[0]).pw_name == "bizmetrics"


@pytest.mark.parametrize("port", [PG_PORT, *AZURITE_PORTS])
def test_services_listen_on_loopback_only(service_env: dict[str, str], port: int) -> None:
    addrs = listening_addresses(port)
    assert addrs, f"nothing listens on port {port}"
    assert addrs == {"0100007F"}, f"port {port} listens on {addrs} (0100007F is 127.0.0.1)"


def test_azurite_blob_roundtrip(service_env: dict[str, str]) -> None:
    blob = pytest.importorskip("azure.storage.blob")
    client = blob.BlobServiceClient.from_connection_string(service_env["AzureWebJobsStorage"])
    assert client.url.startswith("http://127.0.0.1:10000/")
    name = f"svc-test-{uuid.uuid4().hex[:12]}"
    container = client.create_container(name)
    try:
        container.upload_blob("hello.txt", b"hello bizmetrics")
        assert container.download_blob("hello.txt").readall() == b"hello bizmetrics"
        assert name in {c.name for c in client.list_containers(name_starts_with="svc-test-")}
    finally:
        client.delete_container(name)
    assert name not in {c.name for c in client.list_containers(name_starts_with=name)}


def test_azurite_queue_roundtrip(service_env: dict[str, str]) -> None:
    queue = pytest.importorskip("azure.storage.queue")
    client = queue.QueueServiceClient.from_connection_string(service_env["AzureWebJobsStorage"])
    name = f"svc-test-{uuid.uuid4().hex[:12]}"
    q = client.create_queue(name)
    try:
        q.send_message("ping")
        assert [m.content for m in q.receive_messages()] == ["ping"]
    finally:
        client.delete_queue(name)


def _pids() -> dict[str, str]:
    status = run_services("status")
    return dict(re.findall(r"^(\S+)\s+up\b.*\(pid (\d+)", status.stdout, flags=re.M))


def test_start_twice_is_idempotent(service_env: dict[str, str]) -> None:
    before = _pids()
    assert {"postgres", "azurite"} <= before.keys()
    for _ in range(2):
        t0 = time.monotonic()
        result = run_services("start", timeout=120)
        elapsed = time.monotonic() - t0
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
        assert "postgres: already running" in result.stdout
        assert "azurite: already running" in result.stdout
        assert elapsed < 15, f"second start took {elapsed:.1f}s"
    assert _pids() == before, "start restarted a service that was already running"


def test_status_reports_up(service_env: dict[str, str]) -> None:
    result = run_services("status", timeout=60)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert re.search(r"^postgres\s+up\b", result.stdout, flags=re.M), result.stdout
    assert re.search(r"^azurite\s+up\b", result.stdout, flags=re.M), result.stdout
    if QBO_AVAILABLE and os.environ.get("BIZ_SKIP_SIMS") != "1":
        assert re.search(r"^qbo-sim\s+up\b", result.stdout, flags=re.M), result.stdout
    else:
        assert re.search(r"^qbo-sim\s+(n/a|down)\b", result.stdout, flags=re.M), result.stdout


def test_restart_sims(service_env: dict[str, str]) -> None:
    before = _pids().get("qbo-sim")
    result = run_services("restart-sims", timeout=120)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    if not QBO_AVAILABLE or os.environ.get("BIZ_SKIP_SIMS") == "1":
        assert "qbo-sim: skipped" in result.stdout
        return
    after = _pids().get("qbo-sim")
    assert after and after != before, result.stdout
    import urllib.request

    with urllib.request.urlopen(f"{service_env['QBO_BASE_URL']}/_sim/health", timeout=5) as resp:
        assert resp.status == 200
