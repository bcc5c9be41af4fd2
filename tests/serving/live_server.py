"""Running the service for real: `lmrec serve` as a subprocess, or uvicorn in a thread."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not come up in {timeout}s")


def start_cli_server(
    registry: Path, db: str, port: int, key: str, home: Path, log: Path
) -> subprocess.Popen:
    """`lmrec serve` in a child process (its own interpreter, as a user would run it)."""
    cmd = [
        sys.executable, "-c", "from lmrec.cli.main import main; main()", "serve",
        "--registry", str(registry), "--db", db, "--port", str(port),
        "--api-key", key, "--log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "LMREC_HOME": str(home), "LMREC_REGISTRY_POLL_SECONDS": "0"}
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    wait_until_up(f"http://127.0.0.1:{port}", proc=proc)
    return proc


class ThreadServer:
    """uvicorn serving an app in a background thread of this process."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        wait_until_up(self.url)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
