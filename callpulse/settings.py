"""The one settings object: read from ``CALLPULSE_*`` variables and CLI flags, validated once, frozen.

Every other module receives the values it needs as keyword arguments; nothing else reads the environment.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

from callpulse.settings_security import SecuritySettings
from processors.formulas import ServiceLevelVariant
from processors.limits import CONTRACT_MAX_ID, CONTRACT_MAX_NAME, CONTRACT_MAX_QUEUES, EventLimits
from processors.timeutil import TimeFormatError, parse_event_time_ms

Seconds = Annotated[float, Field(gt=0)]


class SettingsError(ValueError):
    """A setting has a bad value; the message names the variable and what to do."""


class Settings(SecuritySettings):
    """Configuration of every callpulse process. Field ``foo_bar`` is variable ``CALLPULSE_FOO_BAR``."""

    model_config = SettingsConfigDict(env_prefix="CALLPULSE_", frozen=True, extra="forbid")

    # where the parts are
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port]")
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis/Valkey URL (redis:// or rediss://)")
    redis_prefix: str = Field("callpulse", pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Prefix of every Redis key")

    # topics
    contacts_topic: str = Field("callpulse.contacts", description="Topic of contact events, keyed by contact id")
    agents_topic: str = Field("callpulse.agents", description="Topic of agent state events, keyed by agent id")
    dead_letter_topic: str = Field("callpulse.dead-letter", description="Topic that receives rejected events")
    customers_topic: str = Field(
        "callpulse.customers", description="Internal topic: contacts repartitioned by hashed customer id (FCR)"
    )
    topic_partitions: int = Field(8, ge=1, le=1024, description="Partitions of the topics callpulse creates")

    # worker
    app_id: str = Field("callpulse", description="Kafka consumer group / Faust app id")
    batch_max_records: int = Field(
        500,
        ge=1,
        le=100_000,
        description="Most Kafka records (one event, or a batch of up to 10,000) the worker applies at once",
    )
    batch_max_bytes: int = Field(
        1 << 20,
        ge=1024,
        description="Most record bytes of one partition applied and written at once (a bigger batch goes in parts)",
    )
    batch_within_seconds: Seconds = Field(
        0.05, description="Longest wait to fill a batch (a full batch goes at once; this bounds the added delay)"
    )
    fetch_max_wait_seconds: Seconds = Field(
        0.05, description="Longest a worker's Kafka fetch waits for data (Faust's fixed 1.5 s delays events)"
    )
    malloc_mmap_threshold_bytes: int = Field(
        128 * 1024,
        ge=0,
        le=32 * 1024 * 1024,
        description="glibc: allocations this big or bigger are mmapped and returned when freed, so RSS stays flat "
        "(0: glibc's sliding default)",
    )
    malloc_trim_when_idle: bool = Field(
        True,
        description="glibc: the worker gives its heap's free pages back to the OS (malloc_trim) each time it goes "
        "idle, so an idle worker's RSS is what it holds, not what its busiest batch needed",
    )
    gc_gen0_threshold: int = Field(
        50_000,
        ge=0,
        le=10_000_000,
        description="Python's cyclic garbage collector runs after this many more allocations than frees (Python's "
        "default is 700) and skips what start-up made; 0: Python's defaults",
    )
    broker_session_timeout_seconds: Seconds = Field(60.0, description="Kafka consumer session timeout")
    broker_rebalance_timeout_seconds: Seconds = Field(60.0, description="Kafka consumer rebalance timeout")

    # KPI definitions
    bucket_seconds: int = Field(60, ge=1, le=3600, description="Width of the time buckets windows are made of")
    windows: Annotated[tuple[int, ...], NoDecode] = Field(
        (300, 900, 3600), description="Rolling windows in seconds, comma separated"
    )
    allowed_lateness_seconds: int = Field(
        600, ge=0, description="Events older than the watermark by more go to the dead-letter topic"
    )
    stale_contact_seconds: int = Field(
        4 * 3600, ge=60, description="An open contact with no event for this long is dropped"
    )
    short_abandon_seconds: float = Field(5.0, ge=0, description="Abandons quicker than this are short abandons")
    service_level_seconds: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=lambda: {"voice": 20.0, "chat": 60.0, "email": 3600.0, "social": 900.0},
        description="Service-level threshold per channel, e.g. voice=20,chat=60",
    )
    service_level_variant: ServiceLevelVariant = Field(
        ServiceLevelVariant.ABANDONS_AGAINST,
        description="How abandons count in service level: abandons_against, abandons_after_threshold_against, "
        "abandons_within_threshold_met, abandons_ignored",
    )
    service_level_variants: Annotated[dict[str, ServiceLevelVariant], NoDecode] = Field(
        default_factory=dict,
        description="Abandon treatment per queue, overriding the default: queue/channel=variant or "
        "tenant/queue/channel=variant, comma separated",
    )
    offered_includes_timeouts: bool = Field(True, description="Count queue timeouts as offered (and in abandon rate)")
    customer_id_salt: SecretStr = Field(
        SecretStr(""),
        description="Secret used to hash customer ids (HMAC-SHA256); empty disables first contact resolution",
    )
    fcr_days: int = Field(7, ge=1, le=90, description="A repeat contact within this many days fails FCR")
    timezone: str = Field("UTC", description="IANA time zone of the contact center: where 'today' starts")
    interval_minutes: int = Field(15, description="Length of the aligned report intervals: 15 or 30")
    interval_retention_days: int = Field(7, ge=1, le=400, description="How long interval figures are kept in Redis")
    per_agent_metrics: bool = Field(False, description="Also export figures per agent (label agent)")
    per_agent_max_series: int = Field(
        200, ge=1, le=100_000, description="Most agents exported per tenant; the rest are folded into agent=_other"
    )

    # input limits (docs/events.md section 7.1); over a limit, an event goes to the dead-letter topic
    max_event_bytes: int = Field(
        64 * 1024, ge=1, le=64 * 1024 * 1024, description="Largest event accepted, in bytes (too_large)"
    )
    max_json_depth: int = Field(
        32, ge=2, le=1000, description="Deepest nesting of arrays and objects in an event (too_deep)"
    )
    max_string_length: int = Field(
        64 * 1024,
        ge=CONTRACT_MAX_ID,
        le=64 * 1024 * 1024,
        description="Longest string in an event, in any field or key (string_too_long)",
    )
    max_name_length: int = Field(
        CONTRACT_MAX_NAME, ge=1, le=CONTRACT_MAX_NAME, description="Longest tenant, queue or aux reason (invalid_value)"
    )
    max_id_length: int = Field(
        CONTRACT_MAX_ID,
        ge=1,
        le=CONTRACT_MAX_ID,
        description="Longest event, contact, agent or customer id (invalid_value)",
    )
    max_queues: int = Field(
        CONTRACT_MAX_QUEUES,
        ge=1,
        le=CONTRACT_MAX_QUEUES,
        description="Most queues one agent event lists (invalid_value)",
    )
    min_event_time: str = Field(
        "2000-01-01T00:00:00Z", description="Events (and opened_at) before this RFC 3339 time are rejected (too_old)"
    )
    max_future_seconds: float = Field(
        300.0,
        ge=0,
        le=366 * 86_400,
        description="Events more than this ahead of the worker's clock are rejected (future_event)",
    )

    # exporter
    exporter_host: str = Field("127.0.0.1", description="Address the exporter listens on")
    exporter_port: int = Field(9466, ge=0, le=65535, description="Port of /metrics and /health")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level")

    @field_validator("windows", mode="before")
    @classmethod
    def _parse_windows(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(int(part) for part in value.split(",") if part.strip())
        return value

    @field_validator("service_level_seconds", mode="before")
    @classmethod
    def _parse_thresholds(cls, value: object) -> object:
        if isinstance(value, str):
            if value.lstrip().startswith("{"):
                return json.loads(value)
            pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
            if any(len(pair) != 2 for pair in pairs):
                raise ValueError("expected channel=seconds pairs, e.g. voice=20,chat=60")
            return {name.strip(): float(seconds) for name, seconds in pairs}
        return value

    @field_validator("service_level_variants", mode="before")
    @classmethod
    def _parse_variants(cls, value: object) -> object:
        if isinstance(value, str):
            pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
            if any(len(pair) != 2 or pair[0].count("/") not in {1, 2} for pair in pairs):
                raise ValueError("expected queue/channel=variant pairs, e.g. support/voice=abandons_ignored")
            return {name.strip(): variant.strip() for name, variant in pairs}
        return value

    @field_validator("interval_minutes")
    @classmethod
    def _check_interval(cls, value: int) -> int:
        if value not in {15, 30}:
            raise ValueError("must be 15 or 30")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Paris") from None
        return value

    @field_validator("min_event_time")
    @classmethod
    def _check_min_event_time(cls, value: str) -> str:
        try:
            parse_event_time_ms(value)
        except TimeFormatError as exc:
            raise ValueError(f"{exc}; e.g. 2000-01-01T00:00:00Z") from None
        return value

    @field_validator("kafka_bootstrap")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"{server!r} is not host:port")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        if urlparse(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @model_validator(mode="after")
    def _check_windows(self) -> Settings:
        if not self.windows:
            raise ValueError("CALLPULSE_WINDOWS: give at least one window")
        for window in self.windows:
            if window <= 0 or window % self.bucket_seconds:
                raise ValueError(
                    f"CALLPULSE_WINDOWS: {window}s is not a positive multiple of "
                    f"CALLPULSE_BUCKET_SECONDS={self.bucket_seconds}"
                )
        if (self.interval_minutes * 60) % self.bucket_seconds:
            raise ValueError(
                f"CALLPULSE_BUCKET_SECONDS={self.bucket_seconds} must divide "
                f"CALLPULSE_INTERVAL_MINUTES={self.interval_minutes}"
            )
        for channel, seconds in self.service_level_seconds.items():
            if seconds <= 0:
                raise ValueError(f"CALLPULSE_SERVICE_LEVEL_SECONDS: threshold of {channel} must be > 0")
        return self

    @property
    def event_limits(self) -> EventLimits:
        """The decoder's limits: pass as ``decode_contact_event(raw, limits=..., now_ms=...)``."""
        return EventLimits(
            max_event_bytes=self.max_event_bytes,
            max_json_depth=self.max_json_depth,
            max_string_length=self.max_string_length,
            max_name_length=self.max_name_length,
            max_id_length=self.max_id_length,
            max_queues=self.max_queues,
            min_time_ms=max(parse_event_time_ms(self.min_event_time), 0),
            max_future_ms=round(self.max_future_seconds * 1000),
        )

    @property
    def kafka_broker_url(self) -> str:
        """The bootstrap servers in the form Faust wants (kafka://host:port;host:port)."""
        return ";".join(f"kafka://{server.strip()}" for server in self.kafka_bootstrap.split(","))


def load_settings(**overrides: object) -> Settings:
    """Read the environment, apply CLI overrides (``None`` means not given), validate; raise SettingsError."""
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except SourceError as exc:
        raise SettingsError(f"invalid configuration: {exc}") from None
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"CALLPULSE_{field.split('.')[0].upper()}: {message}" if field else message)
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(problems)) from None


def render_markdown_table() -> str:
    """The configuration table of the README (a test keeps the two in step)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    security_last = sorted(Settings.model_fields.items(), key=lambda item: item[0] in SecuritySettings.model_fields)
    for name, field in security_last:
        default = field.get_default(call_default_factory=True)
        if isinstance(default, tuple):
            shown = ",".join(str(item) for item in default)
        elif isinstance(default, dict):
            shown = ",".join(f"{key}={value:g}" for key, value in default.items())
        elif isinstance(default, SecretStr):
            shown = "(secret)"
        elif isinstance(default, bool):
            shown = str(default).lower()
        else:
            shown = str(getattr(default, "value", default))
        rows.append(f"| `CALLPULSE_{name.upper()}` | `{shown}` | {field.description} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(render_markdown_table(), end="")
