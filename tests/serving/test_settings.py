"""Service settings from LMREC_* variables and options, checked at start."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lmrec.cli.main import _register_commands, app
from lmrec.errors import ConfigError
from lmrec.serving.settings import load_settings

_register_commands()


def test_defaults_follow_lmrec_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMREC_HOME", str(tmp_path))
    s = load_settings()
    assert s.registry_path == tmp_path / "registry"
    assert s.db_url == f"sqlite:///{tmp_path / 'events.db'}"
    assert (s.host, s.port, s.api_keys, s.cors_origins) == ("127.0.0.1", 8000, [], [])


def test_environment_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMREC_API_KEYS", "first-key-0123456789, second-key-0123456789")
    monkeypatch.setenv("LMREC_PORT", "9001")
    monkeypatch.setenv("LMREC_CORS_ORIGINS", "https://a.example")
    monkeypatch.setenv("LMREC_READ_REQUIRES_KEY", "true")
    s = load_settings(port=9100, db="postgresql://db.example/x")
    assert s.api_keys == ["first-key-0123456789", "second-key-0123456789"]
    assert s.port == 9100 and s.read_requires_key and s.cors_origins == ["https://a.example"]
    assert s.db_url == "postgresql://db.example/x"


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("LMREC_PORT", "eighty", "LMREC_PORT"),
        ("LMREC_PORT", "70000", "LMREC_PORT"),
        ("LMREC_API_KEYS", "short", "at least 16 characters"),
        ("LMREC_MAX_BODY_BYTES", "10", "LMREC_MAX_BODY_BYTES"),
    ],
)
def test_bad_values_are_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, message: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=message) as info:
        load_settings()
    assert "\n" not in str(info.value)


def test_serve_refuses_a_bad_database_url(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LMREC_HOME", str(tmp_path))
    r = CliRunner().invoke(app, ["serve", "--db", "mysql://x/y", "--api-key", "k" * 20])
    assert r.exit_code != 0
    assert r.exit_code == 2 and "unsupported database URL" in r.output
    monkeypatch.setenv("LMREC_PORT", "-1")
    r = CliRunner().invoke(app, ["serve"])
    assert r.exit_code == 2 and "LMREC_PORT" in r.output
