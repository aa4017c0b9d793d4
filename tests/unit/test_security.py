"""The security settings and their mapping to each client: Kafka SASL/TLS, Redis AUTH/TLS, the exporter's basic
auth, the ingest's bearer tokens and body signatures, secrets from files and never in ``repr``."""

from __future__ import annotations

import base64
import hashlib
import ssl
from pathlib import Path

import faust
import orjson
import pytest
from pydantic import SecretStr

from callpulse.ingest_http_auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, IngestAuth, sign
from callpulse.kafka_security import KafkaSecurity
from callpulse.redis_security import redacted_url, redis_options
from callpulse.settings import Settings, SettingsError, load_settings
from exporters.access import BasicAuth
from fixtures.tls import TlsFiles, make_tls_files
from processors.batch import DeadLetter
from streams import dead_letter

SECRET = "s3cr3t-Never-Shown-91c"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("certs"))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("CALLPULSE_"):
            monkeypatch.delenv(name)


# ---------------------------------------------------------------------------------------------- settings


def test_secrets_are_not_in_repr_nor_str(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_SASL_PASSWORD", "REDIS_PASSWORD", "EXPORTER_AUTH_PASSWORD", "INGEST_TOKENS"):
        monkeypatch.setenv(f"CALLPULSE_{name}", SECRET)
    monkeypatch.setenv("CALLPULSE_INGEST_HMAC_SECRET", SECRET)
    monkeypatch.setenv("CALLPULSE_CUSTOMER_ID_SALT", SECRET)
    monkeypatch.setenv("CALLPULSE_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("CALLPULSE_KAFKA_SASL_USERNAME", "worker")
    monkeypatch.setenv("CALLPULSE_EXPORTER_AUTH_USERNAME", "prometheus")
    settings = load_settings()
    assert settings.kafka_sasl_password.get_secret_value() == SECRET
    for text in (repr(settings), str(settings), repr(KafkaSecurity.from_settings(settings))):
        assert SECRET not in text
    assert SECRET not in repr(IngestAuth.from_settings(settings))
    assert SECRET not in repr(BasicAuth("prometheus", SECRET))
    assert "worker" in KafkaSecurity.from_settings(settings).describe()
    assert SECRET not in KafkaSecurity.from_settings(settings).describe()


def test_a_secret_can_come_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "password").write_text(SECRET + "\n")
    monkeypatch.setenv("CALLPULSE_REDIS_PASSWORD_FILE", str(tmp_path / "password"))
    monkeypatch.setenv("CALLPULSE_CUSTOMER_ID_SALT_FILE", str(tmp_path / "password"))
    settings = load_settings()
    assert settings.redis_password.get_secret_value() == SECRET
    assert settings.customer_id_salt.get_secret_value() == SECRET


def test_a_secret_and_its_file_together_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "password").write_text(SECRET)
    monkeypatch.setenv("CALLPULSE_REDIS_PASSWORD_FILE", str(tmp_path / "password"))
    monkeypatch.setenv("CALLPULSE_REDIS_PASSWORD", "other")
    with pytest.raises(SettingsError, match="CALLPULSE_REDIS_PASSWORD and CALLPULSE_REDIS_PASSWORD_FILE"):
        load_settings()


def test_a_missing_secret_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CALLPULSE_INGEST_TOKENS_FILE", str(tmp_path / "nope"))
    with pytest.raises(SettingsError, match="CALLPULSE_INGEST_TOKENS_FILE: cannot read"):
        load_settings()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "needs CALLPULSE_KAFKA_SASL_USERNAME"),
        ({"kafka_ssl_ca_file": "ca.pem"}, "need CALLPULSE_KAFKA_SECURITY_PROTOCOL=SSL"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_cert_file": "x"}, "go together"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_ca_file": "/no/such.pem"}, "no such file"),
        ({"redis_ssl_ca_file": "ca.pem"}, "need a rediss://"),
        ({"exporter_tls_cert_file": "cert.pem"}, "go together"),
        ({"exporter_tls_client_ca_file": "ca.pem"}, "needs CALLPULSE_EXPORTER_TLS_CERT_FILE"),
        ({"exporter_auth_username": "prometheus"}, "go together"),
        ({"exporter_auth_username": "p", "exporter_auth_password": "sha256:abc"}, "64 hex digits"),
        ({"ingest_tls_key_file": "key.pem"}, "go together"),
        ({"kafka_sasl_mechanism": "GSSAPI"}, "KAFKA_SASL_MECHANISM"),
    ],
)
def test_inconsistent_security_settings_are_refused_with_the_variable_named(
    fields: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(**fields)


# ---------------------------------------------------------------------------------------------- Kafka


def test_plaintext_kafka_gets_no_security_arguments() -> None:
    security = KafkaSecurity.from_settings(Settings())
    assert security.client_kwargs() == {"security_protocol": "PLAINTEXT"}
    assert security.faust_credentials() is None


def test_sasl_ssl_maps_to_client_kwargs_and_faust_credentials(certs: TlsFiles) -> None:
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="worker",
        kafka_sasl_password=SecretStr(SECRET),
        kafka_ssl_ca_file=str(certs.ca),
        kafka_ssl_cert_file=str(certs.client_cert),
        kafka_ssl_key_file=str(certs.client_key),
    )
    security = KafkaSecurity.from_settings(settings)
    kwargs = security.client_kwargs()
    assert {key: value for key, value in kwargs.items() if key != "ssl_context"} == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "worker",
        "sasl_plain_password": SECRET,
    }
    context = kwargs["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert any("callpulse test CA" in str(ca["subject"]) for ca in context.get_ca_certs())
    credentials = security.faust_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.password) == ("worker", SECRET)
    assert credentials.mechanism.value == "SCRAM-SHA-256"
    assert credentials.protocol.value == "SASL_SSL"  # Faust derives it from the context


def test_ssl_only_gives_faust_ssl_credentials(certs: TlsFiles) -> None:
    settings = Settings(kafka_security_protocol="SSL", kafka_ssl_ca_file=str(certs.ca), kafka_ssl_check_hostname=False)
    security = KafkaSecurity.from_settings(settings)
    assert set(security.client_kwargs()) == {"security_protocol", "ssl_context"}
    assert security.client_kwargs()["ssl_context"].check_hostname is False
    credentials = security.faust_credentials()
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials.protocol.value == "SSL"


def test_sasl_plaintext_has_no_tls_context() -> None:
    settings = Settings(
        kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="u", kafka_sasl_password=SecretStr("p")
    )
    kwargs = KafkaSecurity.from_settings(settings).client_kwargs()
    assert "ssl_context" not in kwargs
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"  # the default mechanism


# ---------------------------------------------------------------------------------------------- Redis


def test_redis_options_carry_the_acl_user_and_tls_files(certs: TlsFiles) -> None:
    assert redis_options(Settings()) == {}
    settings = Settings(
        redis_url="rediss://cache:6380/0",
        redis_username="callpulse",
        redis_password=SecretStr(SECRET),
        redis_ssl_ca_file=str(certs.ca),
        redis_ssl_cert_file=str(certs.client_cert),
        redis_ssl_key_file=str(certs.client_key),
    )
    assert redis_options(settings) == {
        "username": "callpulse",
        "password": SECRET,
        "ssl_cert_reqs": "required",
        "ssl_ca_certs": str(certs.ca),
        "ssl_certfile": str(certs.client_cert),
        "ssl_keyfile": str(certs.client_key),
    }


def test_urls_are_redacted_for_messages() -> None:
    assert redacted_url(f"rediss://user:{SECRET}@cache:6380/0") == "rediss://cache:6380/0"


# ---------------------------------------------------------------------------------------------- exporter


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("stored", [SECRET, "sha256:" + hashlib.sha256(SECRET.encode()).hexdigest()])
def test_basic_auth_accepts_only_the_user_and_password(stored: str) -> None:
    auth = BasicAuth("prometheus", stored)
    assert auth.allows(_basic("prometheus", SECRET))
    assert not auth.allows(_basic("prometheus", SECRET + "x"))
    assert not auth.allows(_basic("grafana", SECRET))
    assert not auth.allows(_basic("prometheus", stored) if stored != SECRET else "Basic !!!")
    assert not auth.allows(None)
    assert not auth.allows("Bearer " + SECRET)
    assert not auth.allows("Basic " + base64.b64encode(b"no-colon").decode())


# ---------------------------------------------------------------------------------------------- ingest

NOW = 1_795_000_000
BODY = b'{"event_id": "e1"}'


def test_an_open_ingest_needs_nothing() -> None:
    auth = IngestAuth()
    assert auth.check_token(None) is None
    assert auth.check_signature({}, BODY, NOW) is None


def test_bearer_tokens() -> None:
    auth = IngestAuth.from_settings(Settings(ingest_tokens=SecretStr("tok-a, tok-b")))
    assert auth.check_token("Bearer tok-a") is None
    assert auth.check_token("bearer tok-b") is None
    for header, error in [(None, "missing_token"), ("Basic tok-a", "missing_token"), ("Bearer tok-c", "invalid_token")]:
        reply = auth.check_token(header)
        assert reply is not None and reply.status == 401 and reply.body["error"] == error


def test_body_signatures() -> None:
    auth = IngestAuth.from_settings(Settings(ingest_hmac_secret=SecretStr(SECRET)))
    good = {TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: sign(SECRET, NOW, BODY)}
    assert auth.check_signature(good, BODY, NOW + 299) is None
    cases = [
        ({}, BODY, NOW, "missing_signature"),
        (good, BODY + b" ", NOW, "invalid_signature"),
        ({**good, SIGNATURE_HEADER: sign("other", NOW, BODY)}, BODY, NOW, "invalid_signature"),
        ({**good, TIMESTAMP_HEADER: str(NOW + 1)}, BODY, NOW, "invalid_signature"),  # the time is signed too
        ({**good, TIMESTAMP_HEADER: "soon"}, BODY, NOW, "invalid_signature"),
        (good, BODY, NOW + 301, "stale_signature"),
        (good, BODY, NOW - 301, "stale_signature"),
    ]
    for headers, body, now, error in cases:
        reply = auth.check_signature(headers, body, now)
        assert reply is not None and reply.status == 401 and reply.body["error"] == error, (headers, now)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    import hmac

    expected = hmac.new(b"key", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign("key", 1_700_000_000, BODY) == f"sha256={expected}"


# ---------------------------------------------------------------------------------------------- dead letters


def _letter(raw: bytes) -> DeadLetter:
    from processors.events import Rejection, RejectReason

    return DeadLetter(key=b"k", raw=raw, offset=7, rejection=Rejection(RejectReason.CONFLICTING_EVENT, "conflict"))


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type": "queued", "customer_id": "+33612345678", "queue": "q"}',
        b'{"type": "queued", "customer_id" : "+33612345678\\"x"}',
        b'{"type": "queued", "customer_id": "+33612345678',  # truncated JSON
    ],
)
def test_dead_letter_payloads_redact_customer_ids_unless_opted_in(raw: bytes) -> None:
    redacted = orjson.loads(dead_letter.envelope(_letter(raw), topic="t", partition=0, rejected_at_ms=1))
    assert "+33612345678" not in redacted["payload"]
    assert dead_letter.REDACTED in redacted["payload"]
    kept = orjson.loads(
        dead_letter.envelope(_letter(raw), topic="t", partition=0, rejected_at_ms=1, personal_data=True)
    )
    assert "+33612345678" in kept["payload"]
