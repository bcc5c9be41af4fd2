"""The README's "Bring your own data" walk, run command by command as written there: the
shop log from CSV through inspect, compare, train, evaluate and recommend to the
service's recommendations, with the outputs and figures the README shows."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from lmrec.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
README_PORT = "8000"


@dataclass
class Block:
    kind: str  # bash, console, text, toml
    lines: list[str] = field(default_factory=list)


def readme_section(title: str = "## Bring your own data") -> list[Block]:
    text = (ROOT / "README.md").read_text()
    start = text.index(title)
    end = text.find("\n## ", start + len(title))
    blocks, current = [], None
    for line in text[start:end].splitlines():
        if current is None and line.startswith("```"):
            current = Block(line[3:].strip())
        elif current is not None and line.startswith("```"):
            blocks.append(current)
            current = None
        elif current is not None:
            current.lines.append(line)
    return blocks


def without_comment(line: str) -> str:
    """`cmd args   # note` -> `cmd args` (the README's comments follow two spaces)."""
    return re.split(r"\s{2,}#", line)[0].strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Walk:
    """Runs the README's commands in one directory, as a user at a shell would."""

    def __init__(self, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.cwd = cwd
        self.port = str(free_port())
        self.env = {**os.environ, "LMREC_HOME": str(cwd / "home")}
        monkeypatch.chdir(cwd)
        monkeypatch.setenv("LMREC_HOME", str(cwd / "home"))
        self.servers: list[subprocess.Popen] = []
        self.outputs: dict[str, str] = {}

    def run(self, line: str) -> tuple[int, str]:
        line = line.replace(f"localhost:{README_PORT}", f"localhost:{self.port}")
        args = shlex.split(line)
        if args[:2] == ["lmrec", "serve"]:
            return self.serve(args)
        if args[0] == "lmrec":
            result = CliRunner().invoke(app, args[1:], catch_exceptions=False)
            code, out = result.exit_code, result.output
        elif args[0] == "curl" and shutil.which("curl") is None:
            headers = dict(
                args[i + 1].split(": ", 1) for i in range(1, len(args) - 1) if args[i] == "-H"
            )
            response = httpx.get(f"http://{args[-1]}", headers=headers, timeout=30)
            code, out = (0 if response.is_success else 22), response.text
        else:
            if args[0] == "python":
                args[0] = sys.executable
            done = subprocess.run(args, cwd=self.cwd, env=self.env, capture_output=True, text=True)
            # curl's progress meter goes to stderr: the answer is what it prints
            out = done.stdout if args[0] == "curl" else done.stdout + done.stderr
            code = done.returncode
        self.outputs[line] = out
        return code, out

    def serve(self, args: list[str]) -> tuple[int, str]:
        assert args[-1] == "&"
        args = [a if a != README_PORT else self.port for a in args[2:-1]]
        cmd = [sys.executable, "-c", "from lmrec.cli.main import main; main()", "serve", *args]
        log = open(self.cwd / "serve.log", "ab")  # noqa: SIM115 (the server keeps writing)
        server = subprocess.Popen(cmd, cwd=self.cwd, env=self.env, stdout=log, stderr=log)
        self.servers.append(server)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert server.poll() is None, (self.cwd / "serve.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).is_success:
                    return 0, ""
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("lmrec serve did not come up in 90 s")

    def stop(self) -> None:
        for server in self.servers:
            server.terminate()
            server.wait(timeout=30)


@pytest.fixture
def walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Walk]:
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "docs" / "examples")
    walker = Walk(tmp_path, monkeypatch)
    yield walker
    walker.stop()


def test_the_readme_walk_from_a_csv_to_served_recommendations(walk: Walk) -> None:
    last = ""
    for block in readme_section():
        if block.kind == "toml":  # a file the reader writes: its name is the first comment
            name = block.lines[0].lstrip("# ").strip()
            (walk.cwd / name).write_text("\n".join(block.lines) + "\n")
        elif block.kind == "bash":
            for line in filter(None, map(without_comment, block.lines)):
                code, last = walk.run(line)
                assert code == 0, f"{line}\n{last}"
        elif block.kind == "console":  # `$ command` then the output the README shows
            expected = []
            for line in block.lines:
                if line.startswith("$ "):
                    expected, (code, last) = [], walk.run(line[2:])
                else:
                    expected.append(line)
            for line in expected:
                assert line in last.splitlines(), f"README shows:\n{line}\nbut got:\n{last}"
        elif block.kind == "text":  # the output of the bash line before
            for line in block.lines:
                assert line in last.splitlines(), f"README shows:\n{line}\nbut got:\n{last}"

    outputs = walk.outputs
    # figures the README quotes: NDCG@10 of the comparison, to two decimals
    (report,) = (walk.cwd / "reports" / "compare").iterdir()
    ndcg = {
        r["model"]: r["metrics"]["ndcg@10"]
        for r in json.loads((report / "results.json").read_text())
    }
    prose = (ROOT / "README.md").read_text()
    number = r"(\d\.\d\d)"
    quoted = re.search(
        rf"itemknn reaches NDCG@10 {number}, EASE\s+{number}, ALS {number} and popularity {number}",
        prose,
    )
    assert quoted is not None
    shown = [f"{ndcg[m]:.2f}" for m in ("itemknn", "ease", "als", "pop")]
    assert shown == list(quoted.groups())
    # c001 bought kitchen things: both faces recommend kitchen things first
    cli = next(out for line, out in outputs.items() if "--user c001" in line)
    assert "p-kitchen-" in cli.split("title")[-1].splitlines()[2]
    served = next(out for line, out in outputs.items() if line.startswith("curl"))
    items = [item["item_id"] for item in json.loads(served)["items"]]
    assert len(items) == 5 and items[0].startswith("p-kitchen-")
    # the new product is recommended from its text at once
    text_recs = next(out for line, out in outputs.items() if "--history p-coffee-01" in line)
    assert "Cold brew jar" in text_recs.split("title")[-1].splitlines()[2]
