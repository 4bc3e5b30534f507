"""Write the dashboards generated from the metric catalog: `python -m grafana.build` (or `--check`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from grafana.dashboards import all_dashboards

DASHBOARDS_DIR = Path(__file__).with_name("dashboards")


def render(dashboard: dict) -> str:
    return json.dumps(dashboard, indent=2, ensure_ascii=False) + "\n"


def stale(directory: Path = DASHBOARDS_DIR) -> list[str]:
    """Files that are missing, different from what the catalog generates, or no longer generated."""
    wanted = {name: render(body) for name, body in all_dashboards().items()}
    found = {p.name for p in directory.glob("*.json")}
    differing = [n for n, text in wanted.items() if not (directory / n).exists() or
                 (directory / n).read_text() != text]
    return sorted(differing + sorted(found - set(wanted)))


def write(directory: Path = DASHBOARDS_DIR) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    wanted = all_dashboards()
    for name, body in wanted.items():
        (directory / name).write_text(render(body))
    for extra in {p.name for p in directory.glob("*.json")} - set(wanted):
        (directory / extra).unlink()
    return sorted(wanted)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grafana.build", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed dashboards are stale")
    args = parser.parse_args(argv)
    if args.check:
        outdated = stale()
        if outdated:
            print(f"stale dashboards: {', '.join(outdated)}; run `python -m grafana.build`", file=sys.stderr)
            return 1
        print("dashboards are up to date")
        return 0
    for name in write():
        print(f"wrote {DASHBOARDS_DIR / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
