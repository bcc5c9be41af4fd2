"""A/B tests in the service: LMREC_AB splits users between live models by a stable hash,
every served row carries the arm, /metrics gives each arm's click-through rate and
`lmrec ab report` reads the test from the store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serving_toys import AUTH, READ_AUTH, make_settings
from sqlalchemy import text

from lmrec.errors import ConfigError
from lmrec.events.store import EventStore
from lmrec.serving.ab_split import parse_ab
from lmrec.serving.app import create_app
from lmrec.serving.settings import load_settings

SPLIT = "pop:0.5,mf:0.5"
USERS = [f"u{n}" for n in range(1, 5)] + [f"visitor-{n}" for n in range(40)]


def _metric(body: str, name: str, arm: str) -> float:
    found = re.search(rf'^{name}\{{arm="{arm}"\}} ([0-9.e+-]+)$', body, re.M)
    assert found, f"{name} for arm {arm} not in /metrics"
    return float(found.group(1))


def test_users_keep_their_arm_and_the_arm_is_logged_and_counted(
    registry_dir: Path, db_url: str, tmp_path: Path
) -> None:
    split = parse_ab(SPLIT)
    assert split is not None
    clicks: list[dict[str, object]] = []
    shown = {"pop": 0, "mf": 0}
    with TestClient(
        create_app(make_settings(registry_dir, db_url, ab=SPLIT)), headers=READ_AUTH
    ) as client:
        for n_user, user in enumerate(USERS):
            first = client.get(f"/v1/users/{user}/recommendations", params={"k": 2}).json()
            again = client.post("/v1/recommendations", json={"user_id": user, "k": 2}).json()
            assert first["arm"] == again["arm"] == split.arm_for(user)
            assert first["model"] == first["arm"]  # the arm's model answered
            for answer in (first, again):
                shown[answer["arm"]] += len(answer["items"])
                # pop users click their first list's first item, a third of them the
                # second list's too (users differ, so the rate has a spread)
                if answer["arm"] == "pop" and (answer is first or n_user % 3 == 0):
                    clicks.append(
                        {"event_id": f"c{len(clicks)}", "user_id": user, "type": "click",
                         "item_id": answer["items"][0]["item_id"],
                         "request_id": answer["request_id"]}
                    )  # fmt: skip
        named = client.get("/v1/users/u1/recommendations", params={"model": "mf"}).json()
        assert named["arm"] is None and named["model"] == "mf"  # naming a model opts out
        history_only = client.post("/v1/recommendations", json={"history": ["i1"]}).json()
        assert history_only["arm"] is None and history_only["model"] == "pop"
        assert client.post("/v1/events", json=clicks, headers=AUTH).status_code == 200
        metrics = client.get("/metrics").text
    assert shown["pop"] and shown["mf"]  # both arms drew users
    assert _metric(metrics, "lmrec_ab_impressions", "pop") == shown["pop"]
    assert _metric(metrics, "lmrec_ab_clicks", "pop") == len(clicks)
    assert _metric(metrics, "lmrec_ab_click_through_rate", "pop") == pytest.approx(
        len(clicks) / shown["pop"]
    )
    assert _metric(metrics, "lmrec_ab_click_through_rate", "mf") == 0.0

    store = EventStore(db_url)
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT model, arm, user_id FROM lmrec_served")).fetchall()
    store.close()
    in_test = [r for r in rows if r[1] is not None]
    assert all(r[0] == r[1] == split.arm_for(r[2]) for r in in_test)
    assert len(in_test) == shown["pop"] + shown["mf"]

    _report_through_the_cli(db_url, tmp_path, shown, len(clicks))


def _report_through_the_cli(
    db_url: str, tmp_path: Path, shown: dict[str, int], clicks: int
) -> None:
    from typer.testing import CliRunner

    from lmrec.cli.main import _register_commands, app

    _register_commands()
    out = tmp_path / "ab.json"
    result = CliRunner().invoke(
        app, ["ab", "report", "--db", db_url, "--control", "mf", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "pop vs mf: " in result.output and "sequential p" in result.output
    report = json.loads(out.read_text())
    arms = {a["arm"]: a for a in report["arms"]}
    assert arms["pop"]["impressions"] == shown["pop"] and arms["pop"]["clicks"] == clicks
    assert arms["mf"]["clicks"] == 0
    (comparison,) = report["comparisons"]
    assert (comparison["arm"], comparison["control"]) == ("pop", "mf")
    assert comparison["difference"] == pytest.approx(clicks / shown["pop"])
    assert comparison["ci_low"] < comparison["difference"] < comparison["ci_high"]

    one_arm = CliRunner().invoke(app, ["ab", "report", "--db", db_url, "--since", "2999-01-01"])
    assert one_arm.exit_code == 2 and "at least two arms" in one_arm.output
    bad_date = CliRunner().invoke(app, ["ab", "report", "--db", db_url, "--since", "yesterday"])
    assert bad_date.exit_code == 2 and "--since 'yesterday' is not a date" in bad_date.output


def test_an_arm_that_is_not_live_is_a_503_naming_it(registry_dir: Path, db_url: str) -> None:
    settings = make_settings(registry_dir, db_url, ab="pop:0.5,ghost:0.5")
    with TestClient(create_app(settings), headers=READ_AUTH) as client:
        answers = [client.get(f"/v1/users/{u}/recommendations") for u in USERS]
    ghosts = [a for a in answers if a.status_code != 200]
    assert ghosts, "no user hashed to the arm that is not live"
    for answer in ghosts:
        assert answer.status_code == 503
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "A/B arm 'ghost'" in answer.json()["detail"]


def test_the_split_is_stable_and_near_its_shares() -> None:
    split = parse_ab("a:0.2,b:0.8", salt="test-1")
    assert split is not None
    users = [f"user-{n}" for n in range(20_000)]
    arms = [split.arm_for(u) for u in users]
    assert arms == [split.arm_for(u) for u in users]
    assert arms.count("a") / len(arms) == pytest.approx(0.2, abs=0.015)
    other = parse_ab("a:0.2,b:0.8", salt="test-2")
    assert other is not None
    moved = sum(a != other.arm_for(u) for u, a in zip(users, arms, strict=True))
    assert moved > 4000  # a new salt draws a fresh split (about 32% change arm)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("pop:0.5", "at least two arms"),
        ("pop:0.5,mf:0.4", "must add up to 1"),
        ("pop:half,mf:0.5", "is not a number"),
        ("pop,mf", "needs the form MODEL:SHARE"),
        ("pop:0.5,pop:0.5", "given twice"),
        ("pop@:0.5,mf:0.5", "NAME@VERSION"),
    ],
)
def test_a_bad_split_is_one_line_at_start(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("LMREC_AB", value)
    with pytest.raises(ConfigError, match="LMREC_AB") as info:
        load_settings()
    assert message in str(info.value) and "\n" not in str(info.value)


def test_two_versions_of_one_model_side_by_side(registry_dir: Path, tmp_path: Path) -> None:
    """pop@1 (live) against pop@2 (registered, not live): each user's arm answers with its
    version, whatever is promoted meanwhile."""
    db_url = f"sqlite:///{tmp_path / 'events.db'}"
    split = "pop@1:0.5,pop@2:0.5"
    settings = make_settings(registry_dir, db_url, ab=split)
    with TestClient(create_app(settings), headers=READ_AUTH) as client:
        answers = {u: client.get(f"/v1/users/{u}/recommendations").json() for u in USERS}
        # promoting version 2 does not move the pinned arms
        promoted = client.post("/v1/models/pop/versions/2/promote", headers=AUTH)
        assert promoted.status_code == 200, promoted.text
        after = client.get("/v1/users/u3/recommendations").json()
    assert {a["arm"] for a in answers.values()} == {"pop@1", "pop@2"}
    for answer in answers.values():
        assert answer["model"] == "pop" and f"pop@{answer['version']}" == answer["arm"]
    assert after["version"] == answers["u3"]["version"]
    store = EventStore(db_url)
    with store.engine.connect() as conn:
        logged = conn.execute(text("SELECT DISTINCT arm, version FROM lmrec_served")).fetchall()
    store.close()
    assert sorted(tuple(r) for r in logged) == [("pop@1", "1"), ("pop@2", "2")]


def test_a_version_arm_that_does_not_load_is_a_503(registry_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path / 'e.db'}", ab="pop:0.5,pop@9:0.5")
    with TestClient(create_app(settings), headers=READ_AUTH) as client:
        answers = [client.get(f"/v1/users/{u}/recommendations") for u in USERS]
    failed = [a for a in answers if a.status_code != 200]
    assert failed and all(a.status_code == 503 for a in failed)
    assert "A/B arm 'pop@9'" in failed[0].json()["detail"]
    assert "not loaded" in failed[0].json()["detail"]
