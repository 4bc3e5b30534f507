"""requirements.lock pins, with hashes, everything requirements.txt asks for (what Azure installs), is not stale,
and keeps the floors above published advisories."""

from __future__ import annotations

import importlib.metadata
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
# Versions below these have published advisories (aiohttp: request smuggling and friends; cryptography: the
# OpenSSL it bundles).
FLOORS = {"aiohttp": Version("3.14.4"), "cryptography": Version("44.0.1")}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})\b")


@dataclass
class Pin:
    version: Version
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


def _requirements() -> list[Requirement]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [Requirement(line.split("#")[0].strip()) for line in lines if line.split("#")[0].strip()]


def _lock(text: str) -> dict[str, Pin]:
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if match := _PIN.match(raw):
            current = pins[canonicalize_name(match.group(1))] = Pin(Version(match.group(2)))
        elif current is not None and (found := _HASH.search(line)):
            current.hashes.append(found.group(1))
        elif current is not None and line.startswith("#"):
            current.via.append(line.lstrip("# ").removeprefix("via").strip())
    return pins


@pytest.fixture(scope="module")
def lock() -> dict[str, Pin]:
    return _lock((ROOT / "requirements.lock").read_text())


def test_the_lock_pins_every_requirement_within_its_range_with_hashes(lock):
    for requirement in _requirements():
        pin = lock.get(canonicalize_name(requirement.name))
        assert pin is not None, f"{requirement.name} is in requirements.txt but not in requirements.lock"
        assert requirement.specifier.contains(pin.version, prereleases=True), (requirement, pin.version)
    assert all(pin.hashes for pin in lock.values()), [n for n, p in lock.items() if not p.hashes]


def test_the_extras_asked_for_are_locked_too(lock):
    for requirement in _requirements():
        for extra in requirement.extras:
            needed = [Requirement(r) for r in importlib.metadata.requires(requirement.name) or ()
                      if "extra ==" in r and Requirement(r).marker.evaluate({"extra": extra})]
            assert needed, f"{requirement.name}[{extra}] has no dependency here"
            for dependency in needed:
                assert canonicalize_name(dependency.name) in lock, f"{dependency.name} ({requirement.name}[{extra}])"


def test_the_lock_is_not_stale(lock):
    """What the lock says came from requirements.txt is exactly what requirements.txt asks for."""
    direct = {name for name, pin in lock.items() if any(v == "-r requirements.txt" for v in pin.via)}
    assert direct == {canonicalize_name(r.name) for r in _requirements()}, (
        "requirements.lock is stale: regenerate it (README, Dependencies)")


@pytest.mark.parametrize(("name", "floor"), sorted(FLOORS.items()))
def test_the_floors_stay_above_published_advisories(lock, name, floor):
    (requirement,) = [r for r in _requirements() if canonicalize_name(r.name) == name]
    below = Version(f"{floor.major}.{floor.minor}.{floor.micro - 1}") if floor.micro else None
    assert below is None or not requirement.specifier.contains(below), f"requirements.txt allows {name} {below}"
    assert not requirement.specifier.contains("0.0.1")
    assert lock[name].version >= floor


def test_the_parser_reads_pins_hashes_and_what_asked_for_them():
    text = ("aiohttp==3.14.5 \\\n    --hash=sha256:" + "a" * 64 + " \\\n    --hash=sha256:" + "b" * 64 + "\n"
            "    # via\n    #   -r requirements.txt\n    #   azure-functions\n"
            "yarl==1.20.0 \\\n    --hash=sha256:" + "c" * 64 + "\n    # via aiohttp\n")
    pins = _lock(text)
    assert pins["aiohttp"].hashes == ["a" * 64, "b" * 64]
    assert "-r requirements.txt" in pins["aiohttp"].via
    assert pins["yarl"].via == ["aiohttp"] and pins["yarl"].version == Version("1.20.0")
