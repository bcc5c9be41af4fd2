"""Similar items, catalogue additions and text search over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serving_toys import AUTH, READ_AUTH, ToyMF, make_settings, toy_dataset

from lmrec.models.baseline.popularity import PopularityRecommender
from lmrec.serving.app import create_app
from lmrec.store.registry import ModelRegistry


def ids(body: dict) -> list[str]:
    return [item["item_id"] for item in body["items"]]


def test_similar_items_by_cooccurrence(client: TestClient) -> None:
    r = client.get("/v1/items/i6/similar", params={"k": 2})
    assert r.status_code == 200
    body = r.json()
    # i6 was seen only by u4, together with i2 and i3: cosine 1/sqrt(3) and 1/sqrt(2)
    assert ids(body) == ["i3", "i2"]
    assert abs(body["items"][0]["score"] - 2**-0.5) < 1e-6
    assert body["model"] == "pop"


def test_similar_items_by_vectors(client: TestClient) -> None:
    expected = ToyMF().fit(toy_dataset()).similar_items("i1", 3)
    body = client.get("/v1/items/i1/similar", params={"k": 3, "model": "mf"}).json()
    assert ids(body) == expected.item_ids


def test_search_finds_items_by_their_words(client: TestClient) -> None:
    r = client.post("/v1/search", json={"query": "comedy", "k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(ids(body)) == {"i1", "i2", "i5"} and body["model"] == "text"
    r = client.post("/v1/search", json={"query": "horror house", "k": 1})
    assert ids(r.json()) == ["i6"]


def test_search_with_filters_and_user(client: TestClient) -> None:
    r = client.post("/v1/search", json={"query": "comedy", "k": 3, "filters": {"genre": "action"}})
    assert ids(r.json())[0] == "i5"
    # u4 watched action/horror: their profile pulls the action comedy above the family one
    anon = ids(client.post("/v1/search", json={"query": "comedy", "k": 3}).json())
    mine = ids(client.post("/v1/search", json={"query": "comedy", "k": 3, "user_id": "u4"}).json())
    assert set(anon) == set(mine)
    assert mine.index("i5") <= anon.index("i5")


def test_search_blends_in_the_models_scores_for_the_user(client: TestClient) -> None:
    """blend=1 orders by the model's own scores for the user: with the user's history left
    out it agrees with their recommendations; blend=0 is the plain text order."""
    seen = ["i2", "i3", "i6"]  # u4's history
    recs = client.post(
        "/v1/recommendations", json={"user_id": "u4", "k": 3, "model": "text"}
    ).json()
    query = {"query": "comedy", "k": 3, "user_id": "u4", "exclude": seen, "model": "text"}
    blended = client.post("/v1/search", json={**query, "blend": 1.0})
    assert blended.status_code == 200, blended.text
    assert ids(blended.json())[0] == ids(recs)[0]
    assert set(ids(blended.json())) == set(ids(recs))
    plain = client.post("/v1/search", json={**query, "blend": 0.0}).json()
    assert set(ids(plain)) <= {"i1", "i4", "i5"}
    for bad in (-0.1, 1.5, "lots"):
        r = client.post("/v1/search", json={**query, "blend": bad})
        assert r.status_code == 422 and "blend" in r.text


def test_search_with_empty_words_is_4xx(client: TestClient) -> None:
    r = client.post("/v1/search", json={"query": "   "})
    assert r.status_code == 422


def test_search_without_a_content_model_is_503(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path / "registry")
    reg.register(PopularityRecommender().fit(toy_dataset()), "pop")
    with TestClient(
        create_app(make_settings(reg.root, f"sqlite:///{tmp_path}/e.db")), headers=READ_AUTH
    ) as c:
        r = c.post("/v1/search", json={"query": "comedy"})
        assert r.status_code == 503
        assert "content model" in r.json()["detail"]
        # naming a model that cannot search is the client's mistake, not the service's
        r = c.post("/v1/search", json={"query": "comedy", "model": "pop"})
        assert r.status_code == 422 and "cannot search by text" in r.json()["detail"]
        assert r.json()["detail"].startswith("model: ")


def test_new_items_are_searchable_and_recommendable_at_once(client: TestClient) -> None:
    new = {
        "items": [
            {"item_id": "i7", "text": "zombie horror night", "attributes": {"genre": ["Horror"]}},
            {"item_id": 8, "text": "quiet documentary", "attributes": {"genre": "Documentary"}},
        ]
    }
    r = client.post("/v1/items", json=new, headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["created"] == 2 and body["updated"] == 0
    assert body["models"] == {"pop": "pending", "mf": "pending", "text": "added"}
    assert ids(client.post("/v1/search", json={"query": "zombie", "k": 1}).json()) == ["i7"]
    # a user who liked the haunted house now gets the zombie film from the text model
    r = client.post("/v1/recommendations", json={"history": ["i6"], "k": 1, "model": "text"})
    assert ids(r.json()) == ["i7"]
    r = client.post(
        "/v1/recommendations",
        json={"history": ["i6"], "k": 5, "model": "text", "filters": {"genre": "documentary"}},
    )
    assert ids(r.json()) == ["8"]
    # the behaviour models know them only after retraining, and say so
    r = client.get("/v1/items/i7/similar")
    assert r.status_code == 404 and "not been trained on it yet" in r.json()["detail"]
    # events on the new item are accepted, and a history holding it is not an error
    r = client.post("/v1/recommendations", json={"history": ["i7", "i1"], "k": 2})
    assert r.status_code == 200
    again = client.post("/v1/items", json=new, headers=AUTH).json()
    assert again["created"] == 0 and again["updated"] == 2
    # an update replaces the text the content model searches
    new["items"][0]["text"] = "vampire castle"
    client.post("/v1/items", json=new, headers=AUTH)
    assert ids(client.post("/v1/search", json={"query": "vampire", "k": 1}).json()) == ["i7"]
    assert client.post("/v1/search", json={"query": "zombie", "k": 1}).json()["items"][0][
        "score"
    ] == pytest.approx(0.0)


def test_stored_items_survive_a_restart(registry_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path}/e.db")
    item = [{"item_id": "i7", "text": "zombie horror night"}]
    with TestClient(create_app(settings), headers=READ_AUTH) as c:
        c.post("/v1/items", json=item, headers=AUTH)
    with TestClient(create_app(settings), headers=READ_AUTH) as c:
        assert ids(c.post("/v1/search", json={"query": "zombie", "k": 1}).json()) == ["i7"]
