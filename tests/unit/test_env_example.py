""".env.example documents every setting the code reads, and nothing else (the scan: tests/settings_scan.py).

A read whose name cannot be resolved fails here unless it is one of the known dynamic reads, so a new setting
cannot slip past."""

from __future__ import annotations

from tests.settings_scan import CONNECTION_SECRET, HOST_SETTINGS, documented, settings_read_by_code


def test_every_setting_the_code_reads_is_in_env_example():
    read, _ = settings_read_by_code()
    missing = sorted(read - set(documented()))
    assert missing == [], "add these to .env.example, each with a one-line comment and a safe local default"


def test_env_example_lists_nothing_the_code_does_not_read():
    read, _ = settings_read_by_code()
    extra = sorted(name for name in set(documented()) - read - HOST_SETTINGS if not CONNECTION_SECRET.fullmatch(name))
    assert extra == [], "nothing reads these: remove them from .env.example (or fix their spelling)"


def test_every_setting_in_env_example_has_a_comment():
    assert [name for name, comments in documented().items() if not comments] == []


def test_every_read_of_a_setting_has_a_name_the_scan_can_resolve():
    _, unresolved = settings_read_by_code()
    assert unresolved == [], "name the setting with a literal or a module constant, or explain it in DYNAMIC_READS"


def test_the_scan_finds_settings_read_through_constants_secrets_and_bindings():
    read, _ = settings_read_by_code()
    # One of each way a setting is read: a constant (migrate_cli), int_setting, a secret, a binding expression.
    assert {"BIZ_PG_OWNER_DSN", "LOAD_BATCH_ROWS", "SECRET_API_KEY_PEPPER", "SYNC_SCHEDULE", "TASKHUB_NAME"} <= read
