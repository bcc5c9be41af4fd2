"""The dashboard's server side over HTTP: figures from the metrics, reports only from the
reports directory, pages behind the read key when the server needs one."""

from __future__ import annotations

import math
from pathlib import Path

from fastapi.testclient import TestClient
from serving_toys import KEY, make_settings

from lmrec.serving.ui.figures import quantile


def test_quantile_interpolates_inside_the_bucket() -> None:
    # 10 observations: 4 at most 10 ms, 9 at most 20 ms, one above 50 ms
    buckets = ((0.01, 4.0), (0.02, 9.0), (0.05, 9.0), (math.inf, 10.0))
    assert quantile(buckets, 0.5) == 0.01 + 0.01 * (5 - 4) / (9 - 4)
    assert quantile(buckets, 0.99) == 0.05  # in the +inf bucket: the largest finite bound
    assert quantile(((math.inf, 0.0),), 0.5) is None


def test_metrics_data_counts_api_requests_but_not_the_dashboard(client: TestClient) -> None:
    for _ in range(3):
        assert client.get("/v1/users/u1/recommendations").status_code == 200
    client.get("/ui/models")
    data = client.get("/ui/data/metrics").json()
    routes = {r["route"]: r for r in data["routes"]}
    assert routes["/v1/users/{user_id}/recommendations"]["requests"] == 3
    assert routes["/v1/users/{user_id}/recommendations"]["p99_ms"] > 0
    assert not [r for r in routes if r.startswith("/ui")]
    assert data["recommendations_served"] == 3
    assert data["impressions"] > 0 and data["ctr"] == 0.0


def test_reports_outside_the_directory_are_not_served(registry_dir: Path, tmp_path: Path) -> None:
    from lmrec.serving.app import create_app

    reports = tmp_path / "reports"
    (reports / "run-1").mkdir(parents=True)
    (reports / "run-1" / "report.md").write_text("# Run one\n\n<script>alert(1)</script>\n")
    (tmp_path / "secret.txt").write_text("no")
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path / 'e.db'}", reports=reports)
    with TestClient(create_app(settings)) as c:
        page = c.get("/ui/reports/run-1")
        assert page.status_code == 200
        assert "<script>alert" not in page.text  # raw HTML in a report is escaped
        assert "Run one" in c.get("/ui/reports").text
        assert c.get("/ui/reports/run-1/files/report.md").text.startswith("# Run one")
        for bad in ("/ui/reports/..%2Fsecret.txt", "/ui/reports/run-1/files/..%2F..%2Fsecret.txt",
                    "/ui/reports/run-1/files/other.txt", "/ui/reports/nope"):  # fmt: skip
            assert c.get(bad).status_code == 404, bad


def test_pages_need_the_read_key_when_reads_do(registry_dir: Path, tmp_path: Path) -> None:
    from lmrec.serving.app import create_app

    settings = make_settings(registry_dir, f"sqlite:///{tmp_path / 'e.db'}", read_requires_key=True)
    with TestClient(create_app(settings)) as c:
        refused = c.get("/ui/models")
        assert refused.status_code == 401 and "API key needed" in refused.text
        assert c.get("/ui/data/metrics").status_code == 401
        c.cookies.set("lmrec_key", "wrong-key-0123456789", path="/ui")
        assert c.get("/ui/models").status_code == 401
        c.cookies.clear()
        c.cookies.set("lmrec_key", KEY, path="/ui")
        page = c.get("/ui/models")
        assert page.status_code == 200 and 'data-model="pop"' in page.text
