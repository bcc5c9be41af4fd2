"""The dashboard in a real headless Chromium (Debian's `chromium`, driven by Playwright):
the pages load and show what the server knows, a promotion made on the page changes what
the API serves, and a search typed on the page returns items. Screenshots of each page are
saved under the test's tmp directory (tmp_path/screenshots)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pandas as pd
import pytest
from live_server import ThreadServer
from serving_toys import INTERACTIONS, ITEMS, KEY, ToyText, make_settings, toy_dataset

from lmrec.data.dataset import from_frame
from lmrec.data.splitters import random_split
from lmrec.data.synthetic import generate
from lmrec.experiment.compare import compare_models
from lmrec.experiment.report import write_report
from lmrec.models.baseline.popularity import PopularityRecommender
from lmrec.store.registry import ModelRegistry

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():  # `make test` installs it; a bare pytest run may not
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ThreadServer]:
    """pop v1 live and v2 registered (v2 ranks i3 first), a text model that searches, and
    one comparison report written by the real compare pipeline."""
    reg = ModelRegistry(tmp_path / "registry")
    reg.register(PopularityRecommender().fit(toy_dataset()), "pop", metrics={"ndcg@10": 0.1})
    extra = [("u5", "i3"), ("u6", "i3"), ("u7", "i3")]
    frame = pd.DataFrame(INTERACTIONS + extra, columns=["user_id", "item_id"])
    reg.register(PopularityRecommender().fit(from_frame(frame, items=ITEMS)), "pop")
    reg.register(ToyText().fit(toy_dataset()), "text")
    reports = tmp_path / "reports"
    split = random_split(generate(n_users=60, n_items=80, n_interactions=1200, seed=3), seed=1)
    rows = compare_models(split, ["pop", "itemknn"], "random", tune=False)
    write_report(rows, reports / "toy-run", title="pop versus itemknn", context={"data": "toy"})
    settings = make_settings(reg.root, f"sqlite:///{tmp_path / 'events.db'}", reports=reports)
    from lmrec.serving.app import create_app

    with ThreadServer(create_app(settings)) as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def shot(page: Page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / "screenshots" / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5000  # a real rendering, not an empty frame
    return path


def use_key(page: Page, key: str) -> None:
    page.fill("#api-key", key)
    with page.expect_navigation():
        page.click("#key-form button")


def test_pages_load_and_show_what_the_server_knows(
    page: Page, server: ThreadServer, tmp_path: Path
) -> None:
    page.goto(f"{server.url}/ui")
    assert page.url.endswith("/ui/models")
    assert page.locator("section.model[data-model=pop] tr[data-version]").count() == 2
    live = page.locator("section.model[data-model=pop] tr.live")
    assert live.get_attribute("data-version") == "1"
    assert "serving" in live.locator("td.state").inner_text()
    shot(page, tmp_path, "models")

    # a few requests, then the live figures count them
    for _ in range(5):
        httpx.get(f"{server.url}/v1/users/u1/recommendations")
    page.goto(f"{server.url}/ui/metrics")
    route = page.locator("#routes tbody tr", has_text="/v1/users/{user_id}/recommendations")
    route.wait_for()
    assert int(route.locator("td").nth(2).inner_text()) >= 5
    assert page.locator("#served").inner_text() != "–"
    assert page.locator("#rps-chart canvas").count() == 1  # uPlot drew the chart
    shot(page, tmp_path, "metrics")

    page.goto(f"{server.url}/ui/reports")
    page.click("text=toy-run")
    assert "pop versus itemknn" in page.locator("article.report h1").inner_text()
    assert page.locator("article.report table").count() >= 1
    chart = page.locator("img.report-chart").first
    chart.wait_for()
    assert chart.evaluate("img => img.complete && img.naturalWidth > 100")
    shot(page, tmp_path, "report")


def test_a_promotion_on_the_page_changes_what_the_api_serves(
    page: Page, server: ThreadServer, tmp_path: Path
) -> None:
    def top_item() -> tuple[str, bool]:
        """The version answering, and whether it ranks i3 first (only v2 does)."""
        body = {"history": ["i4"], "k": 1}
        answer = httpx.post(f"{server.url}/v1/recommendations", json=body).json()
        return answer["version"], answer["items"][0]["item_id"] == "i3"

    assert top_item() == ("1", False)
    page.goto(f"{server.url}/ui/models")
    promote = page.locator("section.model[data-model=pop] tr[data-version='2'] button.promote")

    promote.click()  # without a key the API refuses, and the page says so
    page.locator("#message.error").wait_for()
    assert "401" in page.locator("#message").inner_text()
    assert top_item() == ("1", False)

    use_key(page, KEY)
    assert page.locator("#key-state").inner_text() == "key set"
    with page.expect_navigation():  # the page reloads after a promotion
        page.locator("section.model[data-model=pop] tr[data-version='2'] button.promote").click()
    assert (
        page.locator("section.model[data-model=pop] tr.live").get_attribute("data-version") == "2"
    )
    assert top_item() == ("2", True)
    shot(page, tmp_path, "promoted")

    with page.expect_navigation():
        page.locator("section.model[data-model=pop] button.rollback").click()
    assert top_item() == ("1", False)


def test_try_it_recommends_with_explanations_and_searches(
    page: Page, server: ThreadServer, tmp_path: Path
) -> None:
    page.goto(f"{server.url}/ui/try")
    form = page.locator("#rec-form")
    form.locator("input[name=history]").fill("i1, i2")
    form.locator("select[name=model]").select_option("text")
    form.locator("button").click()
    results = page.locator("#rec-results li")
    results.first.wait_for()
    assert results.count() == 4  # six items, two in the history
    assert "because of" in page.locator("#rec-results").inner_text()
    assert "text@1" in page.locator("#rec-meta").inner_text()

    search = page.locator("#search-form")
    search.locator("input[name=query]").fill("haunted horror")
    search.locator("button").click()
    found = page.locator("#search-results li")
    found.first.wait_for()
    assert found.count() >= 1
    assert found.first.inner_text().startswith("i6 — haunted house horror")
    shot(page, tmp_path, "try")
