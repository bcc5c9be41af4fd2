"""The OpenAPI document against the server's real answers, by Schemathesis with every
check: no 5xx, every status and content type documented, bodies and headers as
documented, schema-valid requests accepted and schema-violating ones refused, auth not
ignored, wrong methods answered 405.

The run is bounded (a few examples per operation, its own time limit) so that it stays
a test and not a fuzzing campaign; the seed is printed for replaying a failure.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import ThreadServer
from serving_toys import KEY, make_settings

from lmrec.serving.app import create_app

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def server(registry_dir: Path, tmp_path: Path) -> Iterator[ThreadServer]:
    # Event times as far ahead as year 9999 are allowed here, so that the document's
    # date-time pattern (1970 on) is exactly the rule; the future bound has its own tests
    # (test_strict_input.py)
    settings = make_settings(
        registry_dir, f"sqlite:///{tmp_path / 'events.db'}", event_max_future_seconds=1e13
    )
    with ThreadServer(create_app(settings)) as running:
        yield running


def test_every_answer_is_documented_schemathesis_all_checks(
    server: ThreadServer, tmp_path: Path
) -> None:
    pytest.importorskip("schemathesis")  # in the dev extra
    cmd = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/openapi.json",
        "--checks", "all",
        "--max-examples", "5",
        "--max-time", "90",
        "--workers", "1",
        "--request-timeout", "30",
        "--header", f"Authorization: Bearer {KEY}",
        "--no-color",
    ]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=500, cwd=tmp_path)
    report = run.stdout[-15_000:] + run.stderr[-3_000:]
    assert run.returncode == 0, report
    # exit 0 means no check failed; a warning (e.g. an operation whose generated ids all
    # answered 404) is not a failure, so "No issues found" is not required
    assert "❌" not in run.stdout, report


def test_documented_problem_answers(server: ThreadServer) -> None:
    """What the document says of errors, read directly: every API route documents
    problem+json answers for keys, admission and its own errors; 422 is a
    ValidationProblem; /metrics is plain text."""
    import httpx

    spec = httpx.get(f"{server.url}/openapi.json").json()
    for path, item in spec["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, op in item.items():
            responses = op["responses"]
            for status in ("400", "401", "403", "429", "503"):
                assert status in responses, (method, path, status)
            for status, entry in responses.items():
                if int(status) >= 400:
                    assert list(entry["content"]) == ["application/problem+json"], (path, status)
            assert responses["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
    batch = spec["paths"]["/v1/recommendations/batch"]["post"]["responses"]
    assert {"404", "413", "422"} <= set(batch)
    schema = batch["422"]["content"]["application/problem+json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ValidationProblem"}
    assert "409" in spec["paths"]["/v1/models/{name}/rollback"]["post"]["responses"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    metrics = spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
