"""`python -m grafana.azure datasource`: the definition Managed Grafana gets is the data source the provisioning file
declares (same uid, type, user, settings), and the password reaches only a pipe, and only when asked for."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grafana.azure import (
    PASSWORD_VARIABLE,
    DefinitionError,
    datasource_definition,
    main,
    provisioned_datasource,
)
from grafana.dashboards import all_dashboards

ROOT = Path(__file__).resolve().parents[2]
HOST = "psql-bizm-dev-abc.postgres.database.azure.com"
PASSWORD = "grafana-test-password-7f3a"  # a fixed test value: the command logs nothing, it only prints


def _run(*args: str, env_password: str | None = None, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    if env_password is not None:
        env[PASSWORD_VARIABLE] = env_password
    return subprocess.run([sys.executable, "-m", "grafana.azure", *args], cwd=ROOT, env=env, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=60)


def test_the_definition_is_the_provisioned_data_source_with_its_placeholders_filled():
    declared = provisioned_datasource()
    definition = datasource_definition(HOST)
    for key in ("uid", "type", "name", "access", "user", "isDefault"):
        assert definition[key] == declared[key], key
    assert definition["uid"] == "bizmetrics-pg"
    assert set(definition["jsonData"]) == set(declared["jsonData"])
    assert definition["url"] == f"{HOST}:5432"
    assert definition["jsonData"]["database"] == "bizmetrics"
    assert definition["jsonData"]["sslmode"] == "verify-full"
    assert "${" not in json.dumps(definition)
    assert "secureJsonData" not in definition and "editable" not in definition


def test_the_dashboards_name_the_data_source_the_definition_creates():
    definition = datasource_definition(HOST)
    named = {json.dumps(target["datasource"], sort_keys=True)
             for dashboard in all_dashboards().values() for panel in dashboard["panels"]
             for target in panel.get("targets", [])}
    assert named == {json.dumps({"type": definition["type"], "uid": definition["uid"]}, sort_keys=True)}


def test_the_command_prints_the_definition_without_a_password_even_when_one_is_in_the_environment():
    done = _run("datasource", "--host", HOST, "--database", "bizm", "--sslmode", "verify-ca",
                env_password=PASSWORD)
    assert done.returncode == 0, done.stderr
    definition = json.loads(done.stdout)
    assert definition == datasource_definition(HOST, database="bizm", sslmode="verify-ca")
    assert PASSWORD not in done.stdout + done.stderr


def test_with_password_from_env_the_password_goes_into_a_pipe():
    done = _run("datasource", "--host", HOST, "--password-from-env", env_password=PASSWORD)
    assert done.returncode == 0, done.stderr
    definition = json.loads(done.stdout)
    assert definition["secureJsonData"] == {"password": PASSWORD}
    assert {k: v for k, v in definition.items() if k != "secureJsonData"} == datasource_definition(HOST)
    assert PASSWORD not in done.stderr


def test_with_password_from_env_a_file_gets_nothing(tmp_path):
    target = tmp_path / "datasource.json"
    with target.open("w") as out:
        done = _run("datasource", "--host", HOST, "--password-from-env", env_password=PASSWORD, stdout=out)
    assert done.returncode == 2
    assert "only into a pipe" in done.stderr and PASSWORD not in done.stderr
    assert target.read_text() == ""


def test_with_password_from_env_an_unset_password_is_a_clear_error():
    done = _run("datasource", "--host", HOST, "--password-from-env", env_password="")
    assert done.returncode == 2 and done.stdout == ""
    assert f"{PASSWORD_VARIABLE} is not set or empty" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--host", f"{HOST}:5432"], "server's name alone"),
    (["--host", f"user@{HOST}"], "server's name alone"),
    (["--host", HOST, "--port", "0"], "positive number"),
])
def test_a_malformed_host_or_port_is_refused(args, message, capsys):
    assert main(["datasource", *args]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_tls_cannot_be_switched_off():
    with pytest.raises(DefinitionError, match="requires TLS"):
        datasource_definition(HOST, sslmode="disable")
    assert _run("datasource", "--host", HOST, "--sslmode", "disable").returncode == 2  # argparse's choices


def test_a_placeholder_the_command_does_not_fill_is_an_error(tmp_path, monkeypatch):
    from grafana import azure

    changed = tmp_path / "bizmetrics.yaml"
    changed.write_text(azure.PROVISIONING_FILE.read_text().replace("maxOpenConns: 10",
                                                                   "maxOpenConns: ${BIZ_GRAFANA_MAX_CONNS}"))
    monkeypatch.setattr(azure, "PROVISIONING_FILE", changed)
    with pytest.raises(DefinitionError, match="BIZ_GRAFANA_MAX_CONNS"):
        datasource_definition(HOST)


def _guide_lines() -> list[str]:
    """docs/deployment.md with backslash continuations joined, as the shell reads it."""
    return re.sub(r"\\\n\s*", " ", (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")).splitlines()


def test_the_deployment_guide_imports_every_dashboard():
    definition = re.compile(r"az grafana dashboard import .*--definition (grafana/dashboards/[\w.-]+\.json)")
    imported = {m for line in _guide_lines() for m in definition.findall(line)}
    assert imported == {f"grafana/dashboards/{name}" for name in all_dashboards()}


def test_the_deployment_guide_pipes_the_password_into_az_and_never_puts_it_on_a_command_line():
    commands = [line.strip() for line in _guide_lines()
                if line.lstrip().startswith(("BIZ_GRAFANA_DB_PASSWORD=", ".venv/bin/python", "python"))]
    with_password = [line for line in commands if "--password-from-env" in line]
    assert with_password, "section 9 creates the data source with its password"
    for line in with_password:
        assert re.search(r"--password-from-env\s*\|\s*az grafana data-source (create|update) .*--definition /dev/stdin",
                         line), line
    assert any("data-source update" in line for line in with_password), "rotation updates the data source the same way"
    assert not any(re.search(r"--definition\s+\"?\$\(", line) for line in _guide_lines())
