"""Checks of single values of alerts.yaml; each raises ``ConfigError`` naming the field (``where``)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

SEVERITIES = ("page", "warning", "ticket")  # deploy/alertmanager/alertmanager.yml routes each of them

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # tenant and queue, as in the event contract
_WINDOW = re.compile(r"^[1-9]\d*[smh]$")  # a sliding window label of the exporter: 5m, 15m, 1h, 90s
_DURATION = re.compile(r"^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$")  # a Prometheus duration


class ConfigError(ValueError):
    """alerts.yaml is not valid; the message names the field and what is wrong."""


def mapping(value: object, where: str, required: set[str], optional: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
    keys = {str(key) for key in value}
    if missing := sorted(required - keys):
        raise ConfigError(f"{where}: missing {', '.join(missing)}")
    if unknown := sorted(keys - required - optional):
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {sorted(required | optional)}")
    return value


def number(value: object, where: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where}: expected {what}, got {value!r}")
    return float(value)


def seconds(value: object, where: str) -> float:
    found = number(value, where, "a number of seconds")
    if found <= 0:
        raise ConfigError(f"{where}: must be a finite number of seconds > 0, got {value!r}")
    return found


def positive(value: object, where: str, what: str) -> float:
    found = number(value, where, what)
    if found <= 0:
        raise ConfigError(f"{where}: must be > 0, got {value!r}")
    return found


def ratio(value: object, where: str, comparison: str) -> float:
    """A ratio threshold the alert can cross: 0 < r < 1 for "above", 0 < r <= 1 for "below"."""
    found = number(value, where, "a ratio such as 0.8")
    if not (0 < found < 1 or (comparison == "<" and found == 1)):
        bounds = "0 < ratio <= 1" if comparison == "<" else "0 < ratio < 1"
        raise ConfigError(f"{where}: expected a ratio with {bounds} (0.08 for 8 %), got {value!r}")
    return found


def count(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: expected a whole number of contacts >= 1, got {value!r}")
    return value


def agents(value: object, where: str) -> int:
    """A whole number of agents >= 1 (agents required and agents serving are whole numbers)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: expected a whole number of agents >= 1, got {value!r}")
    return value


def duration(value: object, where: str) -> str:
    if not isinstance(value, str) or not value or not _DURATION.fullmatch(value) or not re.search(r"[1-9]", value):
        raise ConfigError(f"{where}: expected a Prometheus duration > 0 such as 1m or 90s, got {value!r}")
    return value


def severity(value: object, where: str) -> str:
    if value not in SEVERITIES:
        raise ConfigError(f"{where}: expected one of {', '.join(SEVERITIES)}, got {value!r}")
    return str(value)


def choice(value: object, where: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ConfigError(f"{where}: expected one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def name(value: object, where: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ConfigError(f"{where}: expected a name matching {_NAME.pattern}, got {value!r}")
    return value


def regex(value: object, where: str) -> str:
    if not isinstance(value, str) or not value or "\n" in value:
        raise ConfigError(f"{where}: expected a one-line regular expression such as callpulse.*, got {value!r}")
    try:
        re.compile(value)
    except re.error as exc:
        raise ConfigError(f"{where}: not a valid regular expression ({exc}): {value!r}") from exc
    return value


def window(value: object, where: str) -> str:
    if not isinstance(value, str) or not _WINDOW.fullmatch(value):
        raise ConfigError(f"{where}: expected a sliding window the exporter serves, such as 15m, got {value!r}")
    return value


def choices(value: object, where: str, allowed: Sequence[str]) -> tuple[str, ...]:
    """A non-empty list of distinct values out of ``allowed``."""
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: expected a non-empty list of {', '.join(allowed)}, got {value!r}")
    chosen = tuple(choice(item, f"{where}[{i}]", allowed) for i, item in enumerate(value))
    if len(set(chosen)) != len(chosen):
        raise ConfigError(f"{where}: a value is listed twice: {list(chosen)}")
    return chosen
