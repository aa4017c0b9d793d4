"""Generated files kept in the repository (rules, PrometheusRule, dashboards): is the committed copy current?"""

from __future__ import annotations

from pathlib import Path


def is_current(path: Path, text: str) -> bool:
    """True when ``path`` exists and holds exactly ``text`` (what its generator would write now)."""
    return path.is_file() and path.read_text(encoding="utf-8") == text
