"""One id rule on SQLite and PostgreSQL: an id with a control character (NUL breaks
PostgreSQL's text type, the others are invisible) is a 422 naming the field on every
route, reads included, and the event store refuses it on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from serving_toys import AUTH

from lmrec.errors import DataError
from lmrec.events.store import EventStore

BAD_IDS = ["u\x001", "u\x01", "tab\tid", "u\x7f"]


def event(**fields: Any) -> dict[str, Any]:
    return {"event_id": "e1", "user_id": "u1", "item_id": "i1", "type": "view", **fields}


def requests_with(bad: str) -> list[tuple[str, str, dict[str, Any], str]]:
    """(method, url, keyword arguments, the field the answer must name)."""
    quoted = bad.encode().hex()  # percent-encode every byte of the id for the path
    in_path = "".join(f"%{quoted[i : i + 2]}" for i in range(0, len(quoted), 2))
    return [
        ("GET", f"/v1/users/{in_path}/recommendations", {}, "path user_id"),
        ("POST", "/v1/recommendations", {"json": {"user_id": bad}}, "body user_id"),
        ("POST", "/v1/recommendations", {"json": {"history": ["i1", bad]}}, "body history.1"),
        ("POST", "/v1/recommendations", {"json": {"user_id": "u1", "exclude": [bad]}},
         "body exclude.0"),
        ("POST", "/v1/recommendations/batch", {"json": {"user_ids": ["u1", bad]}},
         "body user_ids.1"),
        ("GET", f"/v1/items/{in_path}/similar", {}, "path item_id"),
        ("GET", f"/v1/items/{in_path}", {}, "path item_id"),
        ("POST", "/v1/items", {"json": [{"item_id": bad, "text": "x"}]}, "body items.0.item_id"),
        ("POST", "/v1/search", {"json": {"query": "comedy", "user_id": bad}}, "body user_id"),
        ("POST", "/v1/search", {"json": {"query": "comedy", "exclude": [bad]}},
         "body exclude.0"),
        ("GET", "/v1/explanations", {"params": {"user_id": bad, "item_id": "i1"}},
         "query user_id"),
        ("GET", "/v1/explanations", {"params": {"user_id": "u1", "item_id": bad}},
         "query item_id"),
        ("POST", "/v1/events", {"json": [event(user_id=bad)]}, "body events.0.user_id"),
        ("POST", "/v1/events", {"json": [event(item_id=bad)]}, "body events.0.item_id"),
        ("POST", "/v1/events", {"json": [event(event_id=bad)]}, "body events.0.event_id"),
        ("POST", "/v1/events", {"json": [event(request_id=bad)]}, "body events.0.request_id"),
    ]  # fmt: skip


@pytest.mark.parametrize("bad", BAD_IDS)
def test_control_characters_in_ids_are_422_naming_the_field(client: TestClient, bad: str) -> None:
    for method, url, kwargs, field in requests_with(bad):
        r = client.request(method, url, headers=AUTH, **kwargs)
        assert r.status_code == 422, (method, url, kwargs, r.status_code, r.text)
        body = r.json()
        assert body["errors"][0]["field"] == field, (url, body)
        assert "control character" in body["detail"], body
    assert client.get("/readyz").status_code == 200  # nothing broke the store underneath


def test_nul_in_item_text_is_422_and_other_text_is_kept(client: TestClient) -> None:
    r = client.post("/v1/items", json=[{"item_id": "i9", "text": "a\x00b"}], headers=AUTH)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body items.0.text"
    text = "two lines\nand a\ttab"  # ordinary text keeps its line breaks and tabs
    r = client.post("/v1/items", json=[{"item_id": "i9", "text": text}], headers=AUTH)
    assert r.status_code == 200, r.text
    assert client.get("/v1/items/i9").json()["catalogue"]["text"] == text


def test_printable_ids_of_every_script_are_fine(client: TestClient) -> None:
    ids = ["ユーザー1", "usuário-ç", "user with spaces", "emoji-🙂"]
    events = [event(event_id=f"e{n}", user_id=u) for n, u in enumerate(ids)]
    r = client.post("/v1/events", json=events, headers=AUTH)
    assert r.status_code == 200 and r.json()["new"] == len(ids)
    for user in ids:
        r = client.get(f"/v1/users/{user}/recommendations")
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("bad", ["u\x00", "u\x1b"])
def test_the_store_applies_the_same_rule_on_both_databases(db_url: str, bad: str) -> None:
    store = EventStore(db_url)
    try:
        row = {"event_id": "e1", "user_id": bad, "item_id": "i1", "type": "view",
               "value": None, "timestamp": 1, "request_id": None}  # fmt: skip
        with pytest.raises(DataError, match="user_id"):
            store.add_events([row])
        with pytest.raises(DataError, match="item_id"):
            store.upsert_items([{"item_id": bad, "text": "x"}])
        assert store.count_events() == 0 and store.count_items() == 0
        # reads: no stored id can hold one, so there is nothing to find
        assert store.user_history(bad) == []
        assert store.known_items([bad, "i1"]) == set()
        assert store.item_row(bad) is None
    finally:
        store.close()
