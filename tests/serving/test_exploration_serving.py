"""Stochastic lists in the service: the exploration policy draws the shown items from the
model's top candidates, and every served row carries the policy and the item's chance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serving_toys import AUTH, READ_AUTH, make_settings
from sqlalchemy import text

from lmrec.errors import ConfigError
from lmrec.events.store import EventStore
from lmrec.serving.app import create_app
from lmrec.serving.settings import load_settings


def _served(db_url: str) -> list[tuple]:
    store = EventStore(db_url)
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT request_id, item_id, rank, model, policy, propensity FROM lmrec_served "
                "ORDER BY request_id, rank"
            )
        ).fetchall()
    store.close()
    return [tuple(r) for r in rows]


def test_greedy_lists_log_a_propensity_of_one(registry_dir: Path, db_url: str) -> None:
    with TestClient(create_app(make_settings(registry_dir, db_url)), headers=READ_AUTH) as client:
        first = client.get("/v1/users/u3/recommendations", params={"k": 3}).json()
        again = client.get("/v1/users/u3/recommendations", params={"k": 3}).json()
    assert [i["item_id"] for i in first["items"]] == [i["item_id"] for i in again["items"]]
    rows = _served(db_url)
    assert len(rows) == 6
    assert {(r[4], r[5]) for r in rows} == {("greedy", 1.0)}


def test_epsilon_one_draws_from_the_candidates_with_their_chance(
    registry_dir: Path, db_url: str
) -> None:
    settings = make_settings(registry_dir, db_url, exploration="epsilon:1")
    with TestClient(create_app(settings), headers=READ_AUTH) as client:
        answers = [
            client.get("/v1/users/u3/recommendations", params={"k": 2}).json() for _ in range(30)
        ]
    lists = [tuple(i["item_id"] for i in a["items"]) for a in answers]
    # u3 has seen i1 and i5: four candidates are left, each list is two distinct of them
    assert all(len(set(lst)) == 2 and not {"i1", "i5"} & set(lst) for lst in lists)
    assert len(set(lists)) > 3  # not the same list every time
    rows = _served(db_url)
    assert len(rows) == 60
    assert {(r[3], r[4]) for r in rows} == {("pop", "epsilon:1")}
    assert [r[5] for r in rows] == pytest.approx([0.25] * 60)  # 1 of 4 candidates a position


def test_policies_per_model_and_the_batch_route(registry_dir: Path, db_url: str) -> None:
    settings = make_settings(registry_dir, db_url, exploration="greedy,mf=softmax:0.5")
    with TestClient(create_app(settings), headers=READ_AUTH) as client:
        client.get("/v1/users/u3/recommendations", params={"k": 2})  # pop: greedy
        client.get("/v1/users/u3/recommendations", params={"k": 2, "model": "mf"})
        batch = client.post(
            "/v1/recommendations/batch",
            json={"user_ids": ["u1", "u2"], "k": 2, "model": "mf"},
            headers=AUTH,
        )
        assert batch.status_code == 200, batch.text
    rows = _served(db_url)
    by_model = {(r[3], r[4]) for r in rows}
    assert by_model == {("pop", "greedy"), ("mf", "softmax:0.5")}
    softmax = [r for r in rows if r[3] == "mf"]
    assert len(softmax) == 6 and all(0.0 < r[5] <= 1.0 for r in softmax)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("epsilon:2", "epsilon must lie in"),
        ("ucb:1", "must be one of greedy, epsilon:E, softmax:T"),
        ("=softmax:1", "a model name is missing"),
        ("thompson:0", "thompson's prior strength (pseudo-looks, e.g. thompson:2)"),
        ("ease=thompson:abc", "thompson needs a number after ':'"),
    ],
)
def test_a_bad_policy_is_one_line_at_start(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("LMREC_EXPLORATION", value)
    with pytest.raises(ConfigError, match="LMREC_EXPLORATION") as info:
        load_settings()
    assert message in str(info.value) and "\n" not in str(info.value)


def test_make_settings_rejects_a_bad_policy(registry_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="softmax temperature must be positive"):
        make_settings(registry_dir, f"sqlite:///{tmp_path / 'e.db'}", exploration="softmax:0")


def test_ope_served_values_greedy_from_the_services_epsilon_log(
    registry_dir: Path, db_url: str, tmp_path: Path
) -> None:
    """Serve with epsilon 0.5, click some shown items by request id, then value greedy and
    the logger itself from that log with `lmrec ope served`."""
    from typer.testing import CliRunner

    from lmrec.cli.main import _register_commands, app

    liked = {"i3", "i4", "i6"}
    settings = make_settings(registry_dir, db_url, exploration="epsilon:0.5")
    with TestClient(create_app(settings), headers=READ_AUTH) as client:
        clicks = []
        for n in range(60):
            user = f"u{1 + n % 4}"
            answer = client.get(f"/v1/users/{user}/recommendations", params={"k": 2}).json()
            for item in answer["items"]:
                if item["item_id"] in liked:
                    clicks.append(
                        {"event_id": f"c{len(clicks)}", "user_id": user, "type": "click",
                         "item_id": item["item_id"], "request_id": answer["request_id"]}
                    )  # fmt: skip
        assert clicks, "the rule clicked nothing"
        assert client.post("/v1/events", json=clicks, headers=AUTH).status_code == 200
    rows = _served(db_url)
    own = [r for r in rows if r[5] >= 0.5]  # the model's own item at its rank
    assert own and len(own) < len(rows)
    clicked = {(c["request_id"], c["item_id"]) for c in clicks}
    greedy_by_hand = sum(1 / r[5] for r in own if (r[0], r[1]) in clicked) / 60

    _register_commands()
    out = tmp_path / "served.json"
    args = ["ope", "served", "--model", "pop", "--db", db_url, "--json", str(out)]
    result = CliRunner().invoke(app, [*args, "--target", "greedy"])
    assert result.exit_code == 0, result.output
    by_name = {r["estimator"]: r for r in json.loads(out.read_text())}
    assert by_name["logged"]["estimate"] == pytest.approx(len(clicks) / 60)
    assert by_name["iips"]["estimate"] == pytest.approx(greedy_by_hand)

    result = CliRunner().invoke(app, [*args, "--target", "epsilon:0.5"])
    assert result.exit_code == 0, result.output
    by_name = {r["estimator"]: r for r in json.loads(out.read_text())}
    for name in ("iips", "snips"):  # the logger valued on its own log: the logged mean
        assert by_name[name]["estimate"] == pytest.approx(len(clicks) / 60)

    refused = CliRunner().invoke(app, [*args, "--target", "softmax:1"])
    assert refused.exit_code == 2 and "needs the model's scores" in refused.output
