"""User ids in the service's logs: `lmrec serve` logs a keyed hash of every user id it
sees in a request line unless told to log them raw."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from live_server import ThreadServer, free_port, wait_until_up
from serving_toys import AUTH, KEY, make_settings

from lmrec.core.pseudonyms import SECRET_FILE, log_pseudonym
from lmrec.serving.app import create_app

USER = "alice@example.com"  # an id that is personal data, as ids often are


def ask_as_a_user(url: str) -> None:
    quoted = "alice%40example.com"
    assert httpx.get(f"{url}/v1/users/{quoted}/recommendations", headers=AUTH).status_code == 200
    assert httpx.get(
        f"{url}/v1/explanations?user_id={quoted}&item_id=i3", headers=AUTH
    ).status_code in (
        200,
        404,
        422,
    )
    r = httpx.delete(f"{url}/v1/users/{quoted}", headers=AUTH)
    assert r.status_code == 200, r.text


def test_serve_logs_a_keyed_hash_not_the_id(registry_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    home = tmp_path / "home"
    log = tmp_path / "serve.log"
    cmd = [
        sys.executable, "-c", "from lmrec.cli.main import main; main()", "serve",
        "--registry", str(registry_dir), "--db", f"sqlite:///{tmp_path / 'e.db'}",
        "--port", str(port), "--api-key", KEY, "--log-level", "info",
    ]  # fmt: skip
    env = {**os.environ, "LMREC_HOME": str(home), "LMREC_DEFAULT_MODEL": "pop"}
    env.pop("LMREC_ID_SECRET", None)
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, proc=proc)
        ask_as_a_user(url)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log.read_text()
    secret = (home / SECRET_FILE).read_text().strip().encode()
    pseudonym = log_pseudonym(secret, USER)
    assert "alice" not in text, text
    # the path, the query parameter and the deletion all name the user by pseudonym
    assert f"/v1/users/{pseudonym}/recommendations" in text
    assert f"user_id={pseudonym}" in text
    assert f'"DELETE /v1/users/{pseudonym} HTTP/1.1" 200' in text


def test_raw_ids_when_configured(registry_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path / 'e.db'}", log_user_ids="raw")
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Keep()
    access = logging.getLogger("uvicorn.access")
    with ThreadServer(create_app(settings)) as server:
        level = access.level
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        try:
            ask_as_a_user(server.url)
        finally:
            access.removeHandler(handler)
            access.setLevel(level)
    assert any("/v1/users/alice%40example.com/recommendations" in line for line in lines)


def test_a_bad_log_setting_is_one_clear_line(tmp_path: Path) -> None:
    from lmrec.errors import ConfigError
    from lmrec.serving.settings import load_settings

    with pytest.raises(ConfigError, match="LMREC_LOG_USER_IDS"):
        load_settings(home=tmp_path, log_user_ids="plain")
