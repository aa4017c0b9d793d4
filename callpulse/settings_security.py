"""The security part of the settings: Kafka SASL/TLS, Redis AUTH/TLS, exporter and ingest authentication.

``Settings`` inherits these fields. Every secret is a ``SecretStr`` (never shown by ``repr`` or logs) and
may instead be read from a file named by ``CALLPULSE_<NAME>_FILE`` (Docker and Kubernetes secrets).
See docs/security.md.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

ENV_PREFIX = "CALLPULSE_"
FILE_SUFFIX = "_FILE"

KafkaProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


def _secret(description: str) -> Any:
    return Field(SecretStr(""), description=f"{description}; or a file named in <variable>{FILE_SUFFIX}")


def _path(description: str) -> Any:
    return Field("", description=description)


class SecretFilesSource(PydanticBaseSettingsSource):
    """``CALLPULSE_<NAME>_FILE=/path``: the secret field ``<name>`` is the file's content (one trailing newline
    dropped). Giving both the variable and its ``_FILE`` variant is refused."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every secret field at once

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            if field.annotation is not SecretStr:
                continue
            variable = f"{ENV_PREFIX}{name.upper()}"
            path = os.environ.get(variable + FILE_SUFFIX)
            if not path:
                continue
            if os.environ.get(variable):
                raise SourceError(f"{variable} and {variable}{FILE_SUFFIX} are both set: give only one")
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise SourceError(f"{variable}{FILE_SUFFIX}: cannot read {path}: {exc.strerror}") from None
            values[name] = text.removesuffix("\n").removesuffix("\r")
        return values


def _check_files(**paths: str) -> None:
    for name, path in paths.items():
        if path and not Path(path).is_file():
            raise ValueError(f"{ENV_PREFIX}{name.upper()}: no such file {path!r}")


def _pair(first: str, first_value: object, second: str, second_value: object) -> None:
    if bool(first_value) != bool(second_value):
        raise ValueError(f"{ENV_PREFIX}{first.upper()} and {ENV_PREFIX}{second.upper()} go together: give both")


def _is_set(secret: SecretStr) -> bool:
    return bool(secret.get_secret_value())


class SecuritySettings(BaseSettings):
    """Fields ``Settings`` inherits; ``secret`` fields also come from ``CALLPULSE_<NAME>_FILE``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    # Kafka
    kafka_security_protocol: KafkaProtocol = Field(
        "PLAINTEXT", description="Kafka security protocol: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    kafka_sasl_mechanism: SaslMechanism = Field(
        "SCRAM-SHA-512", description="SASL mechanism with SASL_*: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
    )
    kafka_sasl_username: str = Field("", description="SASL user name (SASL_* protocols)")
    kafka_sasl_password: SecretStr = _secret("SASL password")
    kafka_ssl_ca_file: str = _path("PEM file of the CAs that sign the brokers' certificates (default: the system's)")
    kafka_ssl_cert_file: str = _path("PEM client certificate for Kafka mutual TLS")
    kafka_ssl_key_file: str = _path("PEM private key of the Kafka client certificate")
    kafka_ssl_check_hostname: bool = Field(True, description="Check that the broker's certificate names its host")

    # Redis (user and password may also be in the URL: redis://user:pass@host)
    redis_username: str = Field("", description="Redis ACL user (default: the URL's, else default)")
    redis_password: SecretStr = _secret("Redis password (AUTH)")
    redis_ssl_ca_file: str = _path("PEM file of the CAs that sign Redis' certificate (needs rediss://)")
    redis_ssl_cert_file: str = _path("PEM client certificate for Redis mutual TLS (needs rediss://)")
    redis_ssl_key_file: str = _path("PEM private key of the Redis client certificate")

    # exporter
    exporter_tls_cert_file: str = _path("PEM certificate (chain) the exporter serves HTTPS with")
    exporter_tls_key_file: str = _path("PEM private key of the exporter's certificate")
    exporter_tls_client_ca_file: str = _path("Require client certificates signed by these CAs on /metrics (mTLS)")
    exporter_auth_username: str = Field("", description="Basic-auth user name /metrics requires (empty: none)")
    exporter_auth_password: SecretStr = _secret("Basic-auth password of /metrics, or sha256:<hex digest of it>")

    # HTTP ingest
    ingest_tokens: SecretStr = _secret("Bearer tokens ingest-http accepts, comma separated (empty: no token needed)")
    ingest_hmac_secret: SecretStr = _secret("Key of the X-Callpulse-Signature HMAC-SHA256 body signature")
    ingest_signature_max_age_seconds: int = Field(
        300, ge=1, le=86_400, description="Signed requests older or newer than this are refused (replay bound)"
    )
    ingest_tls_cert_file: str = _path("PEM certificate (chain) ingest-http serves HTTPS with")
    ingest_tls_key_file: str = _path("PEM private key of the ingest certificate")

    # personal data
    dead_letter_personal_data: bool = Field(
        False, description="Keep customer ids in dead-letter payloads (default: redacted)"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, SecretFilesSource(settings_cls), dotenv_settings, file_secret_settings

    @model_validator(mode="after")
    def _check_security(self) -> SecuritySettings:
        protocol = self.kafka_security_protocol
        if protocol.startswith("SASL") and not (self.kafka_sasl_username and _is_set(self.kafka_sasl_password)):
            raise ValueError(
                f"CALLPULSE_KAFKA_SECURITY_PROTOCOL={protocol} needs CALLPULSE_KAFKA_SASL_USERNAME and "
                "CALLPULSE_KAFKA_SASL_PASSWORD (or CALLPULSE_KAFKA_SASL_PASSWORD_FILE)"
            )
        if not protocol.endswith("SSL") and (self.kafka_ssl_ca_file or self.kafka_ssl_cert_file):
            raise ValueError(
                f"CALLPULSE_KAFKA_SSL_* files need CALLPULSE_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL, not {protocol}"
            )
        _pair("kafka_ssl_cert_file", self.kafka_ssl_cert_file, "kafka_ssl_key_file", self.kafka_ssl_key_file)
        redis_tls = self.redis_ssl_ca_file or self.redis_ssl_cert_file or self.redis_ssl_key_file
        if redis_tls and urlparse(getattr(self, "redis_url", "rediss://")).scheme != "rediss":
            raise ValueError("CALLPULSE_REDIS_SSL_* files need a rediss:// CALLPULSE_REDIS_URL")
        _pair("redis_ssl_cert_file", self.redis_ssl_cert_file, "redis_ssl_key_file", self.redis_ssl_key_file)
        _pair(
            "exporter_tls_cert_file", self.exporter_tls_cert_file, "exporter_tls_key_file", self.exporter_tls_key_file
        )
        if self.exporter_tls_client_ca_file and not self.exporter_tls_cert_file:
            raise ValueError("CALLPULSE_EXPORTER_TLS_CLIENT_CA_FILE needs CALLPULSE_EXPORTER_TLS_CERT_FILE (HTTPS)")
        _pair(
            "exporter_auth_username",
            self.exporter_auth_username,
            "exporter_auth_password",
            _is_set(self.exporter_auth_password),
        )
        hashed = self.exporter_auth_password.get_secret_value()
        if hashed.startswith("sha256:") and not re.fullmatch(r"sha256:[0-9a-fA-F]{64}", hashed):
            raise ValueError("CALLPULSE_EXPORTER_AUTH_PASSWORD: sha256:<hex> needs the 64 hex digits of a SHA-256")
        _pair("ingest_tls_cert_file", self.ingest_tls_cert_file, "ingest_tls_key_file", self.ingest_tls_key_file)
        _check_files(
            kafka_ssl_ca_file=self.kafka_ssl_ca_file,
            kafka_ssl_cert_file=self.kafka_ssl_cert_file,
            kafka_ssl_key_file=self.kafka_ssl_key_file,
            redis_ssl_ca_file=self.redis_ssl_ca_file,
            redis_ssl_cert_file=self.redis_ssl_cert_file,
            redis_ssl_key_file=self.redis_ssl_key_file,
            exporter_tls_cert_file=self.exporter_tls_cert_file,
            exporter_tls_key_file=self.exporter_tls_key_file,
            exporter_tls_client_ca_file=self.exporter_tls_client_ca_file,
            ingest_tls_cert_file=self.ingest_tls_cert_file,
            ingest_tls_key_file=self.ingest_tls_key_file,
        )
        return self
