"""Grafana dashboards generated from code (grafana-foundation-sdk) and committed under deploy/grafana.

``python -m callpulse.dashboards generate`` writes ``deploy/grafana/dashboards/{wallboard,operations}.json``;
``check`` exits 1 when a committed file differs from what ``generate`` would write. The dashboards read the
Prometheus datasource provisioned by ``deploy/grafana/provisioning`` (uid ``callpulse-prometheus``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from grafana_foundation_sdk.models import dashboard as models

from callpulse import dashboards_operations, dashboards_wallboard
from callpulse.dashboards_common import DATASOURCE_UID, to_json_text
from callpulse.dashboards_queries import QueryError, panel_queries
from callpulse.generated import is_current

__all__ = ["DASHBOARDS", "DATASOURCE_UID", "DEFAULT_OUT_DIR", "QueryError", "main", "panel_queries", "render_all"]

DEFAULT_OUT_DIR = Path("deploy/grafana/dashboards")
DASHBOARDS: dict[str, Callable[[], models.Dashboard]] = {
    "wallboard.json": dashboards_wallboard.build,
    "operations.json": dashboards_operations.build,
}


def render_all() -> dict[str, str]:
    """File name -> the JSON text ``generate`` writes."""
    return {name: to_json_text(build()) for name, build in DASHBOARDS.items()}


def generate(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all().items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale(out_dir: Path) -> list[Path]:
    """The dashboard files in ``out_dir`` that are missing or differ from what ``generate`` would write."""
    return [out_dir / name for name, text in render_all().items() if not is_current(out_dir / name, text)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m callpulse.dashboards",
        description="Grafana dashboards of callpulse, generated from code",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  python -m callpulse.dashboards generate\n  python -m callpulse.dashboards check",
    )
    parser.add_argument("command", choices=["generate", "check"], help="write the dashboards, or verify them")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help=f"default {DEFAULT_OUT_DIR}")
    args = parser.parse_args(argv)
    out_dir: Path = args.out_dir
    try:
        if args.command == "generate":
            for path in generate(out_dir):
                print(f"wrote {path}")
            return 0
        outdated = stale(out_dir)
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not outdated:
        print(f"{out_dir}: dashboards are up to date")
        return 0
    for path in outdated:
        print(f"{path} is stale: run `python -m callpulse.dashboards generate` and commit it", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
