"""`lmrec search --server URL`: the command line asks a running service."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from live_server import ThreadServer, free_port
from serving_toys import make_settings
from typer.testing import CliRunner

from lmrec.cli.main import _register_commands, app
from lmrec.serving.app import create_app

_register_commands()


def lmrec(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_search_through_a_running_service(registry_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path / 'events.db'}")
    with ThreadServer(create_app(settings)) as server:
        code, out, err = lmrec("search", "comedy", "--server", server.url, "-k", "3", "--json")
        assert code == 0, err
        rows = json.loads(out)
        direct = httpx.post(f"{server.url}/v1/search", json={"query": "comedy", "k": 3}).json()
        assert [r["item_id"] for r in rows] == [i["item_id"] for i in direct["items"]]
        assert {r["item_id"] for r in rows} == {"i1", "i2", "i5"}
        assert all("comedy" in r["title"] for r in rows)  # titles come back with fields=
        # the service's own explanation reaches the user in one line
        code, _, err = lmrec("search", "comedy", "--server", server.url, "--model", "pop")
        assert code == 2 and "answered" in err and "cannot search by text" in err
    code, _, err = lmrec("search", "comedy", "--server", f"http://127.0.0.1:{free_port()}")
    assert code == 2 and "cannot reach the service" in err
