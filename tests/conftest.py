"""Test-suite wide fixtures: see ``tests/fixtures/``."""

pytest_plugins = [
    "fixtures.servers",
    "fixtures.pipeline",
    "fixtures.prometheus",
    "fixtures.tls",
    "fixtures.secure_servers",
]
