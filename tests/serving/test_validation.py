"""Every bad input is a 4xx problem body that says what is wrong; never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from serving_toys import AUTH


def problem_of(r) -> dict:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    body = r.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == r.status_code
    assert "Traceback" not in r.text
    return body


def test_bad_json_is_400(client: TestClient) -> None:
    r = client.post(
        "/v1/recommendations",
        content=b'{"user_id": "u1",',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400
    assert "not valid JSON" in problem_of(r)["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user_id": "u1", "k": "many"}, "body k"),
        ({"user_id": "u1", "k": 0}, "body k"),
        ({"user_id": "u1", "k": 10**6}, "body k"),
        ({"user_id": ["u1"]}, "body user_id"),
        ({"history": "i1"}, "body history"),
        ({"user_id": "u1", "filters": ["genre"]}, "body filters"),
        ({"user": "u1"}, "body user"),  # a typo is reported, not ignored
    ],
)
def test_wrong_types_and_ranges_are_422(client: TestClient, body: dict, field: str) -> None:
    r = client.post("/v1/recommendations", json=body)
    assert r.status_code == 422
    problem = problem_of(r)
    assert problem["errors"][0]["field"] == field
    assert field in problem["detail"]


@pytest.mark.parametrize("k", ["0", "1000000", "-3", "ten"])
def test_k_out_of_range_in_query_is_422(client: TestClient, k: str) -> None:
    r = client.get("/v1/users/u1/recommendations", params={"k": k})
    assert r.status_code == 422
    assert "query k" in problem_of(r)["detail"]


def test_k_at_the_limits_is_fine(client: TestClient) -> None:
    assert client.get("/v1/users/u1/recommendations", params={"k": 1}).status_code == 200
    r = client.get("/v1/users/u1/recommendations", params={"k": 100})  # LMREC_MAX_K
    assert r.status_code == 200 and len(r.json()["items"]) == 3  # all u1 has not seen


def test_huge_body_is_413(client: TestClient) -> None:
    huge = b'{"history": [' + b'"i1",' * 300_000 + b'"i1"]}'
    r = client.post(
        "/v1/recommendations", content=huge, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert "limit" in problem_of(r)["detail"]


def test_huge_chunked_body_is_413(client: TestClient) -> None:
    def chunks():
        yield b'{"history": ['
        for _ in range(300):
            yield b'"i1",' * 1000
        yield b'"i1"]}'

    r = client.post(
        "/v1/recommendations", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    problem_of(r)


def test_too_many_events_in_one_batch_is_413(client: TestClient) -> None:
    batch = [
        {"event_id": f"e{i}", "user_id": "u", "item_id": "i1", "type": "view"} for i in range(1001)
    ]
    r = client.post("/v1/events", json=batch, headers=AUTH)
    assert r.status_code == 413 and "1000" in problem_of(r)["detail"]


@pytest.mark.parametrize(
    "event",
    [
        {"user_id": "u", "item_id": "i1", "type": "view"},  # no event_id
        {"event_id": "e", "user_id": "u", "item_id": "i1", "type": "no spaces"},
        {"event_id": "e", "user_id": "u", "item_id": "i1", "type": "view", "value": "x"},
        {"event_id": "e", "user_id": "u", "item_id": "i1", "type": "view", "timestamp": "soon"},
        {"event_id": "e", "user_id": "", "item_id": "i1", "type": "view"},
    ],
)
def test_bad_events_are_422(client: TestClient, event: dict) -> None:
    r = client.post("/v1/events", json=[event], headers=AUTH)
    assert r.status_code == 422
    assert problem_of(r)["detail"].startswith("body events.0")


def test_unknown_ids_are_404(client: TestClient) -> None:
    r = client.get("/v1/items/nope/similar")
    assert r.status_code == 404 and "nope" in problem_of(r)["detail"]
    r = client.get("/v1/explanations", params={"user_id": "u1", "item_id": "nope"})
    assert r.status_code == 404 and "nope" in problem_of(r)["detail"]
    r = client.get("/v1/explanations", params={"user_id": "ghost", "item_id": "i1"})
    assert r.status_code == 404 and "ghost" in problem_of(r)["detail"]
    r = client.post("/v1/models/pop/versions/9/promote", headers=AUTH)
    assert r.status_code == 404 and "9" in problem_of(r)["detail"]
    r = client.post("/v1/models/ghost/rollback", headers=AUTH)
    assert r.status_code == 404 and "ghost" in problem_of(r)["detail"]


def test_unknown_filter_attribute_is_4xx(client: TestClient) -> None:
    r = client.post("/v1/recommendations", json={"user_id": "u1", "filters": {"colour": "red"}})
    assert 400 <= r.status_code < 500
    assert "colour" in problem_of(r)["detail"]


def test_unknown_route_and_method(client: TestClient) -> None:
    r = client.get("/v1/nothing")
    assert r.status_code == 404 and "/v1/nothing" in problem_of(r)["detail"]
    r = client.delete("/v1/recommendations")
    assert r.status_code == 405 and "DELETE" in problem_of(r)["detail"]
