"""A version whose files do not load never takes the service down: the server starts on
the last version that loads, promotion refuses it (HTTP 409, CLI exit 2), /readyz and
/metrics show it, and a server retries until the registry's live version loads."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from live_server import free_port, start_cli_server
from serving_toys import AUTH, KEY, READ_AUTH, make_settings
from typer.testing import CliRunner

from lmrec.cli.main import _register_commands
from lmrec.cli.main import app as cli
from lmrec.serving.app import create_app
from lmrec.store.registry import ModelRegistry


def truncate_params(version_dir: Path) -> None:
    params = version_dir / "params.npz"
    params.write_bytes(params.read_bytes()[: params.stat().st_size // 2])


def truncate_item_ids(version_dir: Path) -> None:
    ids = version_dir / "item_ids.csv"
    ids.write_text("\n".join(ids.read_text().splitlines()[:3]) + "\n")


def garbage_meta(version_dir: Path) -> None:
    (version_dir / "model.json").write_text('{"format": 2, "model": "pop", "conf')


def unreadable_history(version_dir: Path) -> None:
    history = version_dir / "history.npz"
    history.unlink()
    history.mkdir()  # reading it fails with an OS error, whoever runs the server


_register_commands()

CORRUPTIONS = [truncate_params, truncate_item_ids, garbage_meta, unreadable_history]
Corrupt = Callable[[Path], None]


def stranger_version(client: TestClient | httpx.Client) -> str:
    r = client.get("/v1/users/stranger/recommendations", params={"k": 3})
    assert r.status_code == 200, r.text
    return r.json()["version"]


def gauge(text: str, name: str, labels: str) -> float | None:
    found = re.search(rf"^{re.escape(name)}\{{{labels}\}} ([0-9.e+-]+)$", text, re.M)
    return float(found.group(1)) if found else None


@pytest.mark.parametrize("corrupt", CORRUPTIONS)
def test_start_serves_the_last_good_version_and_says_so(
    registry_dir: Path, tmp_path: Path, corrupt: Corrupt
) -> None:
    registry = ModelRegistry(registry_dir)
    registry.promote("pop", "2")
    corrupt(registry_dir / "pop" / "2")
    with TestClient(
        create_app(make_settings(registry_dir, f"sqlite:///{tmp_path}/e.db")), headers=READ_AUTH
    ) as c:
        assert stranger_version(c) == "1"  # the last version that loads
        ready = c.get("/readyz")
        assert ready.status_code == 200
        body = ready.json()
        assert body["status"] == "degraded"
        assert body["models"]["pop"] == "1" and body["registry"]["pop"] == "2"
        assert body["load_errors"]["pop"].startswith("version 2:")
        text = c.get("/metrics").text
        assert gauge(text, "lmrec_model_load_failed", 'name="pop",version="2"') == 1
        assert gauge(text, "lmrec_model_in_sync", 'name="pop"') == 0
        assert gauge(text, "lmrec_model_in_sync", 'name="mf"') == 1
    assert registry.live_version("pop") == "2"  # the registry is the operator's, untouched


@pytest.mark.timeout(180)
def test_lmrec_serve_starts_past_a_truncated_live_version(
    registry_dir: Path, tmp_path: Path
) -> None:
    ModelRegistry(registry_dir).promote("pop", "2")
    truncate_params(registry_dir / "pop" / "2")
    port = free_port()
    log = tmp_path / "server.log"
    server = start_cli_server(registry_dir, f"sqlite:///{tmp_path}/e.db", port, KEY, tmp_path, log)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10, headers=AUTH) as client:
            assert stranger_version(client) == "1"
            ready = client.get("/readyz").json()
            assert ready["status"] == "degraded" and "pop" in ready["load_errors"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "Traceback" not in log.read_text()


def test_a_name_with_no_loadable_version_is_not_live_and_readyz_says_why(
    registry_dir: Path, tmp_path: Path
) -> None:
    truncate_params(registry_dir / "mf" / "1")
    with TestClient(
        create_app(make_settings(registry_dir, f"sqlite:///{tmp_path}/e.db")), headers=READ_AUTH
    ) as c:
        body = c.get("/readyz").json()
        assert body["status"] == "degraded" and "mf" not in body["models"]
        assert "corrupt or truncated" in body["load_errors"]["mf"]
        r = c.get("/v1/users/u1/recommendations", params={"model": "mf"})
        assert r.status_code == 404 and "no live model named 'mf'" in r.json()["detail"]


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("corrupt", CORRUPTIONS)
def test_http_promote_of_a_version_that_does_not_load_is_409(
    client: TestClient, registry_dir: Path, corrupt: Corrupt, force: bool
) -> None:
    corrupt(registry_dir / "pop" / "2")
    r = client.post("/v1/models/pop/versions/2/promote", params={"force": force}, headers=AUTH)
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "version 2 does not load" in r.json()["detail"]
    assert stranger_version(client) == "1"
    assert ModelRegistry(registry_dir).live_version("pop") == "1"


def test_http_rollback_to_a_version_that_does_not_load_is_409(
    client: TestClient, registry_dir: Path
) -> None:
    assert client.post("/v1/models/pop/versions/2/promote", headers=AUTH).status_code == 200
    truncate_params(registry_dir / "pop" / "1")
    r = client.post("/v1/models/pop/rollback", headers=AUTH)
    assert r.status_code == 409 and "version 1 does not load" in r.json()["detail"]
    assert stranger_version(client) == "2"
    assert ModelRegistry(registry_dir).live_version("pop") == "2"


@pytest.mark.parametrize("force", [[], ["--force"]])
@pytest.mark.parametrize("corrupt", CORRUPTIONS)
def test_cli_promote_refuses_a_version_that_does_not_load(
    registry_dir: Path, corrupt: Corrupt, force: list[str]
) -> None:
    corrupt(registry_dir / "pop" / "2")
    args = ["models", "promote", "pop", "2", "--registry", str(registry_dir), *force]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "version 2 does not load" in lines[0], r.output
    assert ModelRegistry(registry_dir).live_version("pop") == "1"


@pytest.mark.timeout(120)
def test_a_running_server_retries_until_the_live_version_loads(
    registry_dir: Path, tmp_path: Path
) -> None:
    """The registry names a version the server cannot load (files copied in place, or
    promoted by a tool that does not check): the server keeps the version it has, says
    so, and loads the new one once its files are whole."""
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path}/e.db", registry_poll_seconds=0.1)
    good = tmp_path / "pop-2-intact"
    shutil.copytree(registry_dir / "pop" / "2", good)
    truncate_params(registry_dir / "pop" / "2")
    with TestClient(create_app(settings), headers=READ_AUTH) as c:
        ModelRegistry(registry_dir).promote("pop", "2")
        deadline = time.monotonic() + 30
        while "pop" not in c.get("/readyz").json().get("load_errors", {}):
            assert time.monotonic() < deadline, "the failed load is not reported"
            time.sleep(0.1)
        assert stranger_version(c) == "1"
        shutil.copy(good / "params.npz", registry_dir / "pop" / "2" / "params.npz")
        deadline = time.monotonic() + 60
        while c.get("/readyz").json()["status"] != "ready":
            assert time.monotonic() < deadline, "the repaired version was never loaded"
            time.sleep(0.2)
        assert stranger_version(c) == "2"
        text = c.get("/metrics").text
        assert gauge(text, "lmrec_model_load_failed", 'name="pop",version="2"') is None
        assert gauge(text, "lmrec_model_in_sync", 'name="pop"') == 1
