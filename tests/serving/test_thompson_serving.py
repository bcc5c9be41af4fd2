"""The service's learning policy, thompson:L, over HTTP: lists are drawn from posteriors,
clicks joined by request id raise the clicked item's share of later lists without a
retrain, and a restarted service on the same database goes on from the same counts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serving_toys import AUTH, READ_AUTH, WRITE_AUTH, make_settings
from sqlalchemy import text

from lmrec.events.store import EventStore
from lmrec.serving.app import create_app

# one of the least popular items, which pop believes in least; lists keep items the
# user has seen (a clicked item would otherwise leave the user's candidates)
TARGET = "i6"
PARAMS = {"k": 1, "exclude_seen": False}


def _serve_and_click(client: TestClient, lists: int, start: int) -> tuple[Counter[str], str]:
    """Ask for `lists` lists of one item for u3, click TARGET whenever it is shown; the
    items shown and the version that served them."""
    shown: Counter[str] = Counter()
    clicks = []
    version = ""
    for n in range(lists):
        answer = client.get("/v1/users/u3/recommendations", params=PARAMS).json()
        version = answer["version"]
        item = answer["items"][0]["item_id"]
        shown[item] += 1
        if item == TARGET:
            clicks.append(
                {"event_id": f"c{start + n}", "user_id": "u3", "item_id": item,
                 "type": "click", "request_id": answer["request_id"]}
            )  # fmt: skip
    if clicks:
        assert client.post("/v1/events", json=clicks, headers=WRITE_AUTH).status_code == 200
    return shown, version


def test_thompson_learns_from_clicks_and_keeps_its_counts_across_a_restart(
    registry_dir: Path, db_url: str
) -> None:
    settings = make_settings(
        registry_dir, db_url, exploration="thompson:2", bandit_refresh_seconds=0
    )
    with TestClient(create_app(settings), headers=READ_AUTH) as client:
        first, version = _serve_and_click(client, 150, 0)
        # it explores: the item the model ranks low is shown too (missed 150 times: p < 1e-7)
        assert first[TARGET] > 0 and len(first) > 1, first
        # the served log is written each second in the background; write it now
        client.app.state.ctx.flush_served()  # type: ignore[attr-defined]
        second, _ = _serve_and_click(client, 40, 1000)
        models = client.get("/v1/models", headers=AUTH).json()["versions"]
    assert second[TARGET] / 40 > first[TARGET] / 150  # learnt online, no retrain
    assert {m["name"]: m["exploration"] for m in models if m["live"]}["pop"] == "thompson:2"

    seen = first + second
    store = EventStore(db_url)
    counts = store.bandit_counts("pop", version)
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT policy, propensity FROM lmrec_served WHERE model = 'pop'")
        ).fetchall()
    store.close()
    assert counts == {item: (n, n if item == TARGET else 0) for item, n in seen.items()}
    assert len(rows) == 190 and {r[0] for r in rows} == {"thompson:2"}
    assert all(0.0 < r[1] <= 1.0 for r in rows)

    # a new service on the same database draws from the same posteriors
    with TestClient(create_app(settings), headers=READ_AUTH) as client:
        assert client.app.state.ctx.bandit.for_items(  # type: ignore[attr-defined]
            "pop", version, [TARGET]
        ).clicks.tolist() == [seen[TARGET]]
        third, _ = _serve_and_click(client, 40, 2000)
    assert third[TARGET] / 40 > first[TARGET] / 150


def test_the_batch_route_draws_thompson_lists(registry_dir: Path, db_url: str) -> None:
    settings = make_settings(registry_dir, db_url, exploration="greedy,mf=thompson:5")
    with TestClient(create_app(settings), headers=READ_AUTH) as client:
        batch = client.post(
            "/v1/recommendations/batch",
            json={"user_ids": ["u1", "u2", "u3"], "k": 2, "model": "mf"},
            headers=AUTH,
        )
        assert batch.status_code == 200, batch.text
        version = batch.json()["results"][0]["version"]
    store = EventStore(db_url)
    counts = store.bandit_counts("mf", version)
    store.close()
    assert sum(looks for looks, _ in counts.values()) == 6


def test_ope_served_values_greedy_from_a_thompson_log(
    registry_dir: Path, db_url: str, tmp_path: Path
) -> None:
    """Serve thompson lists of one to u1..u4, click i3 when shown, then value pop's greedy
    lists from that log with `lmrec ope served`: a number with an interval, equal to the
    independent-position IPS sum by hand, and a note that the chances are estimates."""
    import json

    from typer.testing import CliRunner

    from lmrec.cli.main import _register_commands, app

    lists = 80
    settings = make_settings(registry_dir, db_url, exploration="thompson:2")
    clicks = []
    with TestClient(create_app(settings), headers=READ_AUTH) as client:
        for n in range(lists):
            user = f"u{1 + n % 4}"
            answer = client.get(f"/v1/users/{user}/recommendations", params={"k": 1}).json()
            if answer["items"][0]["item_id"] == "i3":
                clicks.append(
                    {"event_id": f"c{n}", "user_id": user, "item_id": "i3", "type": "click",
                     "request_id": answer["request_id"]}
                )  # fmt: skip
        assert clicks, "the rule clicked nothing"
        assert client.post("/v1/events", json=clicks, headers=WRITE_AUTH).status_code == 200
    # each user's greedy item, as a greedy service on the same registry answers it
    greedy_settings = make_settings(registry_dir, f"sqlite:///{tmp_path / 'greedy.db'}")
    with TestClient(create_app(greedy_settings), headers=READ_AUTH) as client:
        greedy = {
            u: client.get(f"/v1/users/{u}/recommendations", params={"k": 1}).json()["items"][0][
                "item_id"
            ]
            for u in ("u1", "u2", "u3", "u4")
        }
    store = EventStore(db_url)
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT request_id, user_id, item_id, propensity FROM lmrec_served")
        ).fetchall()
    store.close()
    clicked = {c["request_id"] for c in clicks}
    by_hand = sum(1 / p for r, u, i, p in rows if i == greedy[u] and r in clicked) / lists
    assert by_hand > 0, "no greedy item was clicked"  # pop v1 puts i3 first for one user

    _register_commands()
    out = tmp_path / "served.json"
    args = ["ope", "served", "--model", "pop", "--db", db_url, "--registry", str(registry_dir)]
    result = CliRunner().invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "Monte Carlo estimates" in " ".join(result.output.split())
    by_name = {r["estimator"]: r for r in json.loads(out.read_text())}
    assert by_name["logged"]["estimate"] == pytest.approx(len(clicks) / lists)
    iips = by_name["iips"]
    assert iips["estimate"] == pytest.approx(by_hand)
    assert iips["ci_low"] <= iips["estimate"] <= iips["ci_high"]

    refused = CliRunner().invoke(app, [*args, "--target", "epsilon:0.1"])
    assert refused.exit_code == 2 and "value greedy only" in refused.output
