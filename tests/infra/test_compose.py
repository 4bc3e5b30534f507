"""Static checks of docker-compose.yml and the Dockerfile: no Docker engine runs here, so what `docker compose up`
would reveal late (a service started before what it needs, a variable nobody documented, an app setting the code
never reads, a file the image copies that is not deployed) is checked from the files themselves."""

from __future__ import annotations

import json
import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tests.settings_scan import CONNECTION_SECRET, documented, settings_read_by_code

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
# Run once and exit: no healthcheck, others wait for it with service_completed_successfully.
ONE_SHOT = {"migrate"}
# Read by the Functions host or its ASP.NET server, not by the app's code.
HOST_SETTINGS = {"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsFeatureFlags", "AzureWebJobsScriptRoot",
                 "AzureFunctionsJobHost__Logging__Console__IsEnabled",
                 "AzureFunctionsJobHost__Logging__FileLoggingMode", "AzureFunctionsJobHost__FileWatchingEnabled",
                 "ASPNETCORE_URLS"}
# What the app needs in this stack: storage is AzureWebJobsStorage (Azurite), the rest by name.
REQUIRED_APP_SETTINGS = {"BIZ_PG_DSN", "AzureWebJobsStorage", "LANDING_CONTAINER", "TASKHUB_NAME", "SYNC_SCHEDULE",
                         "BIZ_ALLOW_LOOPBACK_SOURCES", "BIZ_DEV_SOURCE_HOSTS", "QBO_BASE_URL", "MONDAY_BASE_URL",
                         "SECRET_API_KEY_PEPPER"}
# Secrets: each must come from .env, required (${NAME:?message}), never with a default.
SECRETS_FROM_ENV = {"SECRET_API_KEY_PEPPER", "SECRET_TOKEN_ENCRYPTION_KEY"}
NOT_DEPLOYED = ("devhost", "sandbox", "tests", "bench")
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def environment(service: str) -> dict[str, str]:
    env = services()[service].get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def header_comment() -> str:
    lines = COMPOSE.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines[:next(i for i, line in enumerate(lines) if not line.startswith("#"))])


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments left out."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_the_compose_file_parses_into_services_and_volumes():
    assert isinstance(services(), dict) and services()
    named = {volume.split(":")[0] for svc in services().values() for volume in svc.get("volumes", [])
             if isinstance(volume, str) and not volume.startswith((".", "/"))}
    assert named <= set(compose().get("volumes") or {}), "a named volume is used but not declared"


def test_the_stack_has_every_part_the_issue_names():
    assert {"functions", "postgres", "migrate", "azurite", "grafana", "qbo-sim", "monday-sim"} <= set(services())
    assert services()["functions"].get("build") in (".", {"context": "."}), "functions is built from the Dockerfile"


def test_every_depends_on_names_a_defined_service_with_a_condition_it_can_meet():
    for name, service in services().items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions (a mapping), not a list"
        for other, spec in depends.items():
            assert other in services(), f"{name} depends on {other}, which is not a service"
            condition = (spec or {}).get("condition")
            expected = "service_completed_successfully" if other in ONE_SHOT else "service_healthy"
            assert condition == expected, f"{name} -> {other}: condition {condition!r}, expected {expected}"


def test_every_long_running_service_has_a_healthcheck():
    for name, service in services().items():
        check = service.get("healthcheck") or {}
        if name in ONE_SHOT:
            continue
        assert not check.get("disable") and check.get("test"), f"{name} has no healthcheck"
        test = check["test"]
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL"), f"{name}: healthcheck test form"


def test_published_ports_are_on_loopback_only():
    for name, service in services().items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"


def test_every_variable_is_documented_and_every_secret_is_required():
    text = COMPOSE.read_text(encoding="utf-8")
    header = header_comment()
    documented_settings = set(documented())
    for name, operator, _ in VARIABLE.findall(text):
        assert name in header or name in documented_settings, f"${{{name}}} is not documented (header or .env.example)"
        if "PASSWORD" in name or name.startswith("SECRET_"):
            assert operator == ":?", f"${{{name}}} is a secret: require it (${{{name}:?...}}), no default"
    for secret in SECRETS_FROM_ENV:
        assert re.search(rf"\$\{{{secret}:\?", environment("functions")[secret]), f"{secret} must come from .env"
    # No password written into the file: DSNs carry their password only through a variable.
    for name in services():
        for key, value in environment(name).items():
            for password in re.findall(r"://[^:/@]+:([^@]+)@", value):
                assert VARIABLE.fullmatch(password), f"{name}.{key} holds a literal password"


def test_the_functions_service_sets_what_the_app_requires():
    env = environment("functions")
    missing = sorted(REQUIRED_APP_SETTINGS - set(env))
    assert missing == [], f"the functions service must set {missing}"
    assert env["BIZ_ALLOW_LOOPBACK_SOURCES"] == "true"
    # The simulators are reached by their service names, which must be the allowed development hosts.
    dev_hosts = set(env["BIZ_DEV_SOURCE_HOSTS"].split(","))
    for setting, simulator in (("QBO_BASE_URL", "qbo-sim"), ("MONDAY_BASE_URL", "monday-sim")):
        host = re.match(r"https?://([^:/]+)", env[setting]).group(1)
        assert host == simulator and host in dev_hosts, f"{setting} must point at {simulator}, an allowed host"
    # Every host the app's settings point at is a service of this stack (never 127.0.0.1: that is the container).
    for key, value in env.items():
        for host in re.findall(r"(?:https?://|@|Endpoint=https?://)([A-Za-z0-9_.-]+)[:/]", value):
            assert host in services() or (host == "localhost" and key == "QBO_REDIRECT_URI"), f"{key}: host {host}"


def test_every_key_the_functions_service_sets_is_a_setting_the_code_reads():
    read, _ = settings_read_by_code()
    # Connection secrets (SECRET_CONN_<ID>_<WORD>) are named by connections, not by the code.
    unknown = sorted(name for name in set(environment("functions")) - read - HOST_SETTINGS
                     if not CONNECTION_SECRET.fullmatch(name))
    assert unknown == [], f"nothing reads {unknown}: fix the name or remove it"


def test_migrate_runs_the_deploy_step_as_the_owner_role():
    migrate = services()["migrate"]
    assert "plugins.migrate_cli" in " ".join(migrate["command"] if isinstance(migrate["command"], list)
                                            else shlex.split(migrate["command"]))
    assert "bizmetrics_owner" in environment("migrate")["BIZ_PG_OWNER_DSN"]
    assert "BIZ_PG_OWNER_DSN" not in environment("functions"), "the app never migrates"


def test_mounted_files_exist():
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"


def test_the_dockerfile_builds_on_the_official_image_with_the_hashed_lock():
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "mcr.microsoft.com/azure-functions/python:4-python3.11")
    runs = " ".join(args for word, args in instructions if word == "RUN")
    assert re.search(r"pip install --require-hashes -r \S*requirements\.lock", runs)
    assert "requirements.txt" not in re.findall(r"pip install[^&;]*", runs)[0]
    users = [args for word, args in instructions if word == "USER"]
    assert users and users[-1] not in ("root", "0"), "the host runs as a user without root"


def test_the_dockerfile_copies_only_what_is_deployed():
    sources = []
    for word, args in dockerfile_instructions():
        if word == "COPY":
            parts = [p for p in (json.loads(args) if args.startswith("[") else args.split())
                     if not p.startswith("--")]
            sources += parts[:-1]
    assert sources, "the Dockerfile copies nothing"
    for source in sources:
        assert source not in (".", "./", "*"), "copy named files and folders, not the whole context"
        assert (ROOT / source).exists(), f"COPY {source}: no such file or folder"
        assert source.strip("/").split("/")[0] not in NOT_DEPLOYED, f"COPY {source} is not deployed code"
    copied = {source.strip("/").split("/")[0] for source in sources}
    assert {"function_app.py", "host.json", "api", "activities", "orchestrators", "plugins", "shared"} <= copied


def test_the_dockerignore_keeps_local_state_and_test_code_out():
    ignored = {line.strip().strip("/") for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".local", ".venv", ".git", ".env", *NOT_DEPLOYED} <= ignored


def test_healthchecks_probe_a_real_route():
    paths = set(json.loads((ROOT / "api" / "openapi.json").read_text(encoding="utf-8"))["paths"])
    healthchecks = [args for word, args in dockerfile_instructions() if word == "HEALTHCHECK"]
    assert len(healthchecks) == 1
    probes = {"Dockerfile": healthchecks[0],
              "compose functions": " ".join(services()["functions"]["healthcheck"]["test"])}
    ports = {str(port).rsplit(":", 1)[1] for port in services()["functions"]["ports"]}
    for where, probe in probes.items():
        url = re.search(r"http://127\.0\.0\.1:(\d+)(/[^'\" ]*)", probe)
        assert url, f"{where}: no http://127.0.0.1 probe"
        assert url.group(2) in paths, f"{where}: {url.group(2)} is not a route of the API"
        assert url.group(1) in ports, f"{where}: probes port {url.group(1)}, the container listens on {ports}"


def test_the_simulators_healthchecks_probe_their_own_health_route():
    for name, package in (("qbo-sim", "quickbooks"), ("monday-sim", "monday")):
        probe = " ".join(services()[name]["healthcheck"]["test"])
        path = re.search(r"http://127\.0\.0\.1:\d+(/[^'\" ]*)", probe).group(1)
        admin = (ROOT / "sandbox" / package / "admin.py").read_text(encoding="utf-8")
        assert f'add_get("{path}"' in admin, f"{name} probes {path}, which sandbox/{package} does not serve"
        assert f"python -m sandbox.{package}" in services()[name]["command"]
