"""POST /v1/recommendations/batch, GET /v1/items/{id} and `fields=` over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serving_toys import AUTH, ITEMS, READ_AUTH, make_settings

from lmrec.serving.app import create_app

TITLES = dict(zip(ITEMS["item_id"], ITEMS["title"], strict=True))


def pairs(items: list[dict]) -> list[tuple[str, float]]:
    return [(i["item_id"], round(i["score"], 6)) for i in items]


@pytest.mark.parametrize("model", ["pop", "mf", "text"])
def test_batch_lists_are_the_single_request_lists(client: TestClient, model: str) -> None:
    event = {"event_id": "b1", "user_id": "u3", "item_id": "i6", "type": "click"}
    assert client.post("/v1/events", json=[event], headers=AUTH).status_code == 200
    users = ["u1", "stranger", "u3", "u1", "u4"]  # a repeated id is answered each time
    r = client.post("/v1/recommendations/batch", json={"user_ids": users, "k": 3, "model": model})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [res["user_id"] for res in results] == users
    for res in results:
        single = client.get(
            f"/v1/users/{res['user_id']}/recommendations", params={"k": 3, "model": model}
        ).json()
        assert pairs(res["items"]) == pairs(single["items"]), res["user_id"]
        assert res["cold_start"] == single["cold_start"]
        assert res["model"] == single["model"] and res["version"] == single["version"]
    assert len({res["request_id"] for res in results}) == len(users)  # one per list


def test_item_fields_in_every_kind_of_list(client: TestClient) -> None:
    def check(items: list[dict]) -> None:
        assert items and all(i["fields"]["title"] == TITLES[i["item_id"]] for i in items)

    r = client.get("/v1/users/u1/recommendations", params={"k": 3, "fields": "title,genre"})
    assert r.status_code == 200, r.text
    check(r.json()["items"])
    assert set(r.json()["items"][0]["fields"]) == {"title", "genre"}
    body = {"user_id": "u2", "k": 2, "fields": ["title"], "model": "mf"}
    check(client.post("/v1/recommendations", json=body).json()["items"])
    batch = {"user_ids": ["u1", "nobody"], "k": 2, "fields": ["title"]}
    for res in client.post("/v1/recommendations/batch", json=batch).json()["results"]:
        check(res["items"])
    check(client.get("/v1/items/i1/similar", params={"k": 2, "fields": "title"}).json()["items"])
    check(client.post("/v1/search", json={"query": "comedy", "fields": ["title"]}).json()["items"])
    plain = client.get("/v1/users/u1/recommendations", params={"k": 1}).json()
    assert plain["items"][0]["fields"] is None


def test_unknown_fields_are_named(client: TestClient) -> None:
    r = client.get("/v1/users/u1/recommendations", params={"fields": "titel"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "query fields"
    assert "unknown item field 'titel' (available: title, genre)" in r.json()["detail"]
    r = client.post("/v1/recommendations/batch", json={"user_ids": ["u1"], "fields": ["x"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body fields"


def test_batch_limits(registry_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path / 'e.db'}", max_batch=3)
    with TestClient(create_app(settings), headers=READ_AUTH) as client:
        r = client.post("/v1/recommendations/batch", json={"user_ids": ["a", "b", "c", "d"]})
        assert r.status_code == 413 and "4 users in one request; the limit is 3" in r.text
        assert r.headers["content-type"] == "application/problem+json"
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path}/f.db", max_k=1000)
    with TestClient(create_app(settings), headers=READ_AUTH) as c:
        r = c.post("/v1/recommendations/batch", json={"user_ids": ["u"] * 101, "k": 1000})
        assert r.status_code == 413 and "101 users x k=1000" in r.json()["detail"]
        assert c.post("/v1/recommendations/batch", json={"user_ids": []}).status_code == 422
        r = c.post("/v1/recommendations/batch", json={"user_ids": ["u1"], "exclude": ["zz"]})
        assert r.status_code == 200  # unknown exclusions are ignored, as in single requests
        spec = c.get("/openapi.json").json()["paths"]
        documented = spec["/v1/recommendations/batch"]["post"]["responses"]
        assert "application/problem+json" in documented["413"]["content"]
        assert "404" in spec["/v1/items/{item_id}"]["get"]["responses"]


def test_item_details(client: TestClient) -> None:
    r = client.get("/v1/items/i3")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["fields"] == {"title": "space action battle", "genre": "Action"}
    assert body["model"] == "pop" and body["known_to"] == ["mf", "pop", "text"]
    assert body["catalogue"] is None
    missing = client.get("/v1/items/nope")
    assert missing.status_code == 404 and "unknown item id 'nope'" in missing.json()["detail"]
    new = {"item_id": "i9", "text": "a quiet comedy", "attributes": {"genre": "Comedy"}}
    assert client.post("/v1/items", json=[new], headers=AUTH).status_code == 200
    body = client.get("/v1/items/i9").json()
    assert body["known_to"] == ["text"] and body["model"] == "text"  # pop cannot take items
    assert body["catalogue"] == {**new, "attributes": {"genre": "Comedy"}}
    assert body["fields"]["title"] == "a quiet comedy"
    assert client.get("/v1/items/i9", params={"model": "pop"}).json()["fields"] == {}
