"""Offline checks of infra/: no Bicep CLI here, so the templates are parsed with pycep-parser and checked for
what a deployment would otherwise only reveal in Azure (module wiring, roles, secrets, settings the code reads)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

from tests.settings_scan import settings_read_by_code

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))

# Azure built-in role definition ids (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
BUILT_IN_ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "0ad04412-c4d5-4796-b79c-f76d14c8d402": "Durable Task Data Contributor",
    "22926164-76b3-42b3-bc55-97df8dab3e41": "Grafana Admin",
    "43d0d8ad-25c7-4714-9337-8ba259a9fe05": "Monitoring Reader",
}
# Templates that assign roles, each listing its role ids in a `roles` variable.
ROLE_TEMPLATES = ("roles.bicep", "grafana.bicep")
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
SECRET_SHAPES = re.compile(r"listKeys|listSecrets|listCredentials|ConnectionString|AccountKey|SharedAccessSignature|"
                           r"password|secret", re.IGNORECASE)


@cache
def parsed(path: Path) -> dict[str, Any]:
    return BicepParser().parse(file_path=path)


def flat(node: Any) -> str:
    """An expression tree as text, to search it for names and function calls."""
    return json.dumps(node, default=str)


def true_branch(node: Any) -> dict[str, Any]:
    """The object a `cond ? {...} : {}` yields when true (pycep nests the ternary inside the comparison)."""
    if isinstance(node, dict):
        if "true_value" in node:
            return node["true_value"]
        for child in node.values():
            found = true_branch(child)
            if found is not None:
                return found
    return None  # type: ignore[return-value]


def app_settings() -> dict[str, Any]:
    """Every app setting functionapp.bicep can set (all branches of its conditional groups)."""
    variables = parsed(INFRA / "modules" / "functionapp.bicep")["variables"]
    settings = dict(variables["baseSettings"]["value"])
    for group in ("secretReferences", "durableSettings"):
        settings.update(true_branch(variables[group]["value"]))
    return settings


def optional_settings() -> set[str]:
    table = (INFRA / "OPTIONAL_SETTINGS.md").read_text()
    return set(re.findall(r"^\|\s*`([A-Za-z_][A-Za-z0-9_]*)`", table, re.MULTILINE))


def test_there_is_a_main_template_and_modules() -> None:
    assert INFRA / "main.bicep" in BICEP_FILES
    assert len(BICEP_FILES) >= 8


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: str(p.relative_to(INFRA)))
def test_every_template_parses(path: Path) -> None:
    tree = parsed(path)
    assert tree.get("resources") or tree.get("modules"), f"{path} declares nothing"


def test_module_parameters_match_their_callers() -> None:
    for caller in BICEP_FILES:
        for name, module in parsed(caller).get("modules", {}).items():
            target = caller.parent / module["detail"]["path"]
            assert target.exists(), f"{caller.name}: module {name} points at a missing {target}"
            config = module["config"]
            if "condition" in config:  # `= if (...) {...}` nests the body one level down
                config = config["config"]
            passed = set(config.get("params", {}))
            declared = parsed(target)["parameters"]
            required = {p for p, spec in declared.items() if spec.get("default") is None}
            assert not passed - set(declared), f"{caller.name}: module {name} passes unknown {passed - set(declared)}"
            assert not required - passed, f"{caller.name}: module {name} misses required {required - passed}"


def test_parameter_files_name_only_declared_parameters() -> None:
    declared = parsed(INFRA / "main.bicep")["parameters"]
    required = {p for p, spec in declared.items() if spec.get("default") is None}
    files = [*(INFRA / "parameters").glob("*.parameters.json"), INFRA / "main.parameters.json"]
    assert {f.name for f in files} >= {"dev.parameters.json", "prod.parameters.json"}
    for path in files:
        given = set(json.loads(path.read_text())["parameters"])
        assert not given - set(declared), f"{path.name}: unknown {given - set(declared)}"
        assert not required - given, f"{path.name}: misses {required - given}"


def test_role_ids_are_documented_built_in_roles() -> None:
    found: set[str] = set()
    for path in BICEP_FILES:
        found.update(g.lower() for g in GUID.findall(path.read_text()))
    assert found <= set(BUILT_IN_ROLES), f"unknown role ids: {found - set(BUILT_IN_ROLES)}"
    listed: set[str] = set()
    for name in ROLE_TEMPLATES:
        roles = parsed(INFRA / "modules" / name)
        assignments = [r for r in roles["resources"].values()
                       if r["type"] == "Microsoft.Authorization/roleAssignments"]
        used = {m for r in assignments
                for m in re.findall(r"\"operand_1\": \"roles\", \"operand_2\": \"(\w+)\"", flat(r))}
        assert used == set(roles["variables"]["roles"]["value"]), f"{name}: every listed role is assigned, only those"
        listed.update(roles["variables"]["roles"]["value"].values())
    assert listed == set(BUILT_IN_ROLES)


def test_outputs_carry_no_secret() -> None:
    for path in BICEP_FILES:
        tree = parsed(path)
        secure = {p for p, spec in tree.get("parameters", {}).items()
                  if any(d.get("type") == "secure" for d in spec.get("decorators", []))}
        for name, output in tree.get("outputs", {}).items():
            text = name + flat(output["value"])
            assert not SECRET_SHAPES.search(text), f"{path.name}: output {name} looks like a secret"
            assert not any(p in re.findall(r"\w+", text) for p in secure), f"{path.name}: output {name} is @secure"


def test_app_settings_hold_no_secret_in_plain_text() -> None:
    kv_ref = parsed(INFRA / "modules" / "functionapp.bicep")["variables"]["kvRef"]["value"]
    assert kv_ref.startswith("@Microsoft.KeyVault(VaultName=")
    for name, value in app_settings().items():
        text = flat(value).replace("${kvRef}", kv_ref)
        assert "AccountKey=" not in text and "SharedAccessSignature" not in text, name
        assert "listKeys" not in text and "password" not in text.lower(), name
        if re.search(r"secret|pepper|encryption|reader_dsn", name, re.IGNORECASE) and name != "KEY_VAULT_URL":
            assert "@Microsoft.KeyVault(" in text, f"{name} must be a Key Vault reference"


def test_every_setting_the_code_reads_is_set_or_documented_optional() -> None:
    set_names = set(app_settings())
    # A Functions connection named X is configured by X or by X__<property> (identity-based form).
    covered = set_names | {n.split("__", 1)[0] for n in set_names}
    read, _ = settings_read_by_code()
    assert len(read) > 25 and "BIZ_PG_POOL_MAX_SIZE" in read  # the scan finds constants as well as literals
    missing = read - covered - optional_settings()
    assert not missing, f"read by the code, neither set in functionapp.bicep nor in OPTIONAL_SETTINGS.md: {missing}"
    assert {"BIZ_PG_DSN", "KEY_VAULT_URL", "TASKHUB_NAME", "SYNC_SCHEDULE"} <= set_names


def test_identity_everywhere_and_no_shared_keys() -> None:
    storage = parsed(INFRA / "modules" / "storage.bicep")["resources"]["account"]["config"]["properties"]
    assert storage["allowSharedKeyAccess"] is False and storage["allowBlobPublicAccess"] is False
    settings = app_settings()
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert "AzureWebJobsStorage" not in settings, "a connection string would need the account key"
    vault = parsed(INFRA / "modules" / "keyvault.bicep")["resources"]["vault"]["config"]["properties"]
    assert vault["enableRbacAuthorization"] is True and vault["enablePurgeProtection"] is True
    insights = parsed(INFRA / "modules" / "monitoring.bicep")["resources"]["appInsights"]["config"]["properties"]
    assert insights["DisableLocalAuth"] is True
    assert "Authorization=AAD" in flat(settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"])
    auth = parsed(INFRA / "modules" / "postgres.bicep")["resources"]["server"]["config"]["properties"]["authConfig"]
    assert auth["activeDirectoryAuth"] == "Enabled"


def test_flex_consumption_python_311() -> None:
    tree = parsed(INFRA / "modules" / "functionapp.bicep")["resources"]
    assert tree["plan"]["config"]["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    config = tree["app"]["config"]["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    # Flex Consumption refuses these as app settings.
    assert not {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION"} & set(app_settings())


def test_durable_backend_is_a_parameter() -> None:
    main = parsed(INFRA / "main.bicep")
    assert "DurableTaskScheduler" in flat(main["parameters"]["durableBackend"])
    durable = parsed(INFRA / "modules" / "functionapp.bicep")["variables"]["durableSettings"]["value"]
    scheduler = true_branch(durable)
    assert scheduler["AzureFunctionsJobHost__extensions__durableTask__storageProvider__type"] == "azureManaged"
    assert "Authentication=ManagedIdentity" in flat(scheduler["DURABLE_TASK_SCHEDULER_CONNECTION_STRING"])
    types = {r["type"] for r in parsed(INFRA / "modules" / "durabletask.bicep")["resources"].values()}
    assert types == {"Microsoft.DurableTask/schedulers", "Microsoft.DurableTask/schedulers/taskHubs"}


def test_the_four_alerts_exist() -> None:
    alerts = parsed(INFRA / "modules" / "alerts.bicep")
    keys = {a["key"] for a in alerts["variables"]["alerts"]["value"]}
    assert keys == {"failed-syncs", "reconnect-needed", "token-expiry-soon", "budget-near-limit"}
    # The reconnect alert searches for a log line the code really writes.
    assert "marked action_required" in (ROOT / "shared" / "tokens" / "store.py").read_text()
    assert "marked action_required" in flat(alerts["parameters"]["reconnectQuery"])


def test_the_alerts_query_metrics_and_log_lines_the_code_emits() -> None:
    """The metric names the alert and workbook queries read are instruments shared/core/meters.py creates."""
    import re

    queries = ((INFRA / "modules" / "alerts.bicep").read_text(encoding="utf-8")
               + (INFRA / "workbooks" / "operations.workbook.json").read_text(encoding="utf-8"))
    queried = set(re.findall(r'name == \\?"([a-z0-9_.]+)\\?"', queries))
    created = set(re.findall(r'create_(?:counter|histogram|gauge)\("([a-z0-9_.]+)"',
                             (ROOT / "shared" / "core" / "meters.py").read_text(encoding="utf-8")))
    assert queried and queried <= created, queried - created


def test_the_operations_workbook_is_a_workbook_with_a_query_per_view() -> None:
    import json

    workbook = json.loads((INFRA / "workbooks" / "operations.workbook.json").read_text(encoding="utf-8"))
    assert workbook["version"] == "Notebook/1.0"
    queries = [item["content"]["query"] for item in workbook["items"] if item["type"] == 3]
    assert len(queries) >= 8 and all("customMetrics" in q or "traces" in q for q in queries)


def test_password_logins_are_off_unless_asked_for_and_need_no_known_admin_password() -> None:
    """Password logins exist for Grafana's read-only role only, when grafanaPasswordLogin says so (main.bicep passes
    it through, off by default); the password administrator Azure then requires gets a fresh, never-output GUID."""
    main = parsed(INFRA / "main.bicep")
    assert main["parameters"]["grafanaPasswordLogin"]["default"] is False
    assert main["modules"]["postgres"]["config"]["params"]["grafanaPasswordLogin"] == "grafanaPasswordLogin"
    postgres = parsed(INFRA / "modules" / "postgres.bicep")
    assert postgres["parameters"]["grafanaPasswordLogin"]["default"] is False
    properties = postgres["resources"]["server"]["config"]["properties"]
    switch = properties["authConfig"]["passwordAuth"]["operator"]
    assert switch["type"] == "conditional" and switch["operands"] == {
        "condition": "grafanaPasswordLogin", "true_value": "Enabled", "false_value": "Disabled"}
    for name, parameter in (("administratorLogin", "passwordAdminLogin"),
                            ("administratorLoginPassword", "passwordAdminPassword")):
        assert properties[name]["operator"]["operands"] == {
            "condition": "grafanaPasswordLogin", "true_value": parameter, "false_value": None}
    password = postgres["parameters"]["passwordAdminPassword"]
    assert {"type": "secure"} in password["decorators"]
    assert password["default"] == {"function": {"type": "new_guid"}}
    assert "passwordAdminPassword" not in main["modules"]["postgres"]["config"]["params"]
    assert "bizmetrics_grafana" in (INFRA / "modules" / "postgres.bicep").read_text()


def test_managed_grafana_is_optional_keyless_and_reads_monitoring_with_its_own_identity() -> None:
    main = parsed(INFRA / "main.bicep")
    assert main["parameters"]["deployGrafana"]["default"] is False
    module = main["modules"]["grafana"]["config"]
    assert module["condition"] == "deployGrafana"
    assert {"location": "location", "tags": "allTags"}.items() <= module["config"]["params"].items()
    assert "grafana" in flat(main["outputs"]["grafanaEndpoint"]["value"])
    template = parsed(INFRA / "modules" / "grafana.bicep")
    grafana = template["resources"]["grafana"]
    assert grafana["type"] == "Microsoft.Dashboard/grafana" and not grafana["api_version"].endswith("preview")
    config = grafana["config"]
    assert config["identity"] == {"type": "SystemAssigned"} and config["properties"]["apiKey"] == "Disabled"
    assert (config["location"], config["tags"]) == ("location", "tags")
    reader = template["resources"]["monitoringReader"]["config"]
    assert "scope" not in reader, "Monitoring Reader on the deployment's resource group"
    assert "grafana" in flat(reader["properties"]["principalId"])
    admin = template["resources"]["grafanaAdmin"]["config"]
    assert admin["scope"] == "grafana" and admin["properties"]["principalId"] == "adminPrincipalId"
    assert set(template["outputs"]) == {"name", "endpoint"}


def test_the_load_benchmark_runs_its_worker_with_the_environment_the_template_sets() -> None:
    # bench_load's child stands for a worker: what the template sets that changes a load's memory, it sets too.
    from bench.bench_load import WORKER_ENVIRONMENT

    settings = app_settings()
    assert {name: settings[name] for name in WORKER_ENVIRONMENT} == WORKER_ENVIRONMENT
    assert settings["MALLOC_ARENA_MAX"] == "2"
