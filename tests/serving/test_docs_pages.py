"""/docs and /redoc work without internet access: every script, style and icon they
reference is served by the service itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from fastapi.testclient import TestClient


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]


def references(html: str) -> list[str]:
    parser = _References()
    parser.feed(html)
    return parser.urls


def test_docs_pages_load_only_local_assets(client: TestClient) -> None:
    for page, expected in (("/docs", 3), ("/redoc", 2)):
        r = client.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        urls = references(r.text)
        assert len(urls) == expected, urls  # swagger: script, style, icon; redoc: script, icon
        for url in urls:
            assert url.startswith("/") and not url.startswith("//"), f"{page} loads {url}"
            asset = client.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 1000, url
        # nothing else in the page (inline code, fonts) names another host either
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", r.text), page
    assert client.get("/openapi.json").json()["info"]["title"] == "lmrec"


def test_asset_types(client: TestClient) -> None:
    kinds = {
        "/docs-assets/swagger-ui-bundle.js": "javascript",
        "/docs-assets/swagger-ui.css": "text/css",
        "/docs-assets/redoc.standalone.js": "javascript",
        "/docs-assets/favicon.png": "image/png",
    }
    for url, kind in kinds.items():
        r = client.get(url)
        assert r.status_code == 200 and kind in r.headers["content-type"], url
    assert client.get("/docs-assets/nothing.js").status_code == 404
