"""The YASGUI query page in Debian's Chromium (Playwright): the vendored editor loads with no page errors and
no request leaves the machine, the example queries are tabs, and running one shows its answer."""

from __future__ import annotations

import pytest

from conftest import ROOT, LiveServer, make_settings, require_binary

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "test-artifacts" / "browser"


@pytest.fixture(scope="module")
def server():
    from kb import curated
    from kb.store import open_store
    from server import create_app

    store = open_store(make_settings())
    assert curated.build(store) is None
    live = LiveServer(create_app(make_settings(), store=store, load_if_empty=False))
    yield live
    live.stop()


def test_yasgui_page_runs_the_examples(server):
    chromium = require_binary("chromium")
    from playwright.sync_api import sync_playwright

    from server.sparql.protocol import load_examples

    titles = [e["name"] for e in load_examples()]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            problems, outside = [], []
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

            def guard(route):
                if route.request.url.startswith(server.url):
                    return route.continue_()
                outside.append(route.request.url)
                return route.abort()

            page.route("**/*", guard)
            page.goto(server.url + "/sparql", wait_until="networkidle")
            tabs = page.locator(".tabPanel, [role=tab], .tab").all_inner_texts()
            text = " ".join(tabs) or page.inner_text("body")
            for title in titles:
                assert title in text, (title, text[:500])
            page.get_by_text("Events per year", exact=True).first.click()
            page.locator(".yasqe_queryButton:visible").first.click()
            page.wait_for_selector(".yasr table td:has-text('2016')", timeout=30_000)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "sparql-yasgui.png"))
            assert not problems, problems
            assert not outside, outside
        finally:
            browser.close()
