"""Debian's Chromium, driven by Playwright, reads the pages people read: no console errors, no failed
requests, the content is there, and a phone-width screen has no horizontal scrolling. Screenshots are kept
under test-artifacts/browser/ (desktop and 375 px wide)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT, require_binary

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.oxigraph_only]

ARTIFACTS = ROOT / "test-artifacts" / "browser"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
THB = "https://w3id.org/thb-kb/def#"


@pytest.fixture(scope="module")
def browser():
    chromium = require_binary("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=ARGS, headless=True)
        yield b
        b.close()


def first_of(store, cls: str, where: str = "") -> str:
    q = f"SELECT ?s WHERE {{ ?s a <{THB}{cls}> . {where} }} ORDER BY ?s LIMIT 1"
    rows = list(store.query(q))
    assert rows, f"the curated KB has no {cls}"
    return rows[0]["s"].value


def pages(store) -> dict[str, str]:
    base = "https://w3id.org/thb-kb/"
    agency = first_of(store, "Agency", f"?e <{THB}organiser> ?s")
    event = first_of(store, "Event", "?s <http://data.europa.eu/m8g/hasParticipation> ?pp")
    convention = first_of(store, "Convention")
    return {
        "home": "/",
        "agency": "/doc/" + agency[len(base) + 3:],
        "event": "/doc/" + event[len(base) + 3:],
        "convention": "/doc/" + convention[len(base) + 3:],
        "ontology": "/def",
        "search": "/search?q=police",
        "changes": "/changes",
    }


def visit(browser, url: str, name: str, width: int, height: int):
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale="en-GB")
    page = ctx.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, f"{url}: {response and response.status}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    return ctx, page, problems, scroll_width


@pytest.mark.parametrize("name", ["home", "agency", "event", "convention", "ontology", "search", "changes"])
def test_page_renders_without_errors(browser, live_server, curated_store, name):
    url = live_server.url + pages(curated_store)[name]
    for width, height in ((1280, 900), (375, 800)):
        ctx, page, problems, scroll_width = visit(browser, url, name, width, height)
        try:
            assert problems == [], problems
            assert page.locator("h1").count() == 1, "one main heading"
            assert page.locator("main").count() == 1 and page.locator("nav[aria-label]").count() >= 1
            assert page.title().strip(), "a document title"
            nameless = page.evaluate("""[...document.querySelectorAll('a[href], button, input:not([type=hidden]), select')]
                .filter(e => !(e.innerText || e.textContent || '').trim() && !e.getAttribute('aria-label')
                             && !(e.id && document.querySelector('label[for="' + e.id + '"]'))
                             && !e.querySelector('title'))
                .map(e => e.outerHTML.slice(0, 120))""")
            assert nameless == [], f"controls without an accessible name: {nameless}"
            if width == 375:
                assert scroll_width <= 375 + 1, f"{name} scrolls sideways on a phone ({scroll_width}px)"
            if name in ("agency", "event", "convention"):
                data = page.locator('script[type="application/ld+json"]').first.text_content()
                assert '"@context": "https://schema.org"' in data
                assert page.locator('link[rel="alternate"][type="text/turtle"]').count() == 1
            if name == "agency":
                visible = page.locator("svg.timeline:visible")
                assert visible.count() == 1, "one timeline drawing fits the screen"
                assert visible.locator("a").count() >= 1, "the agency's events are drawn"
                box = visible.bounding_box()
                assert box and box["width"] <= width
            if name == "search":
                assert page.locator("ol.results li").count() >= 1
            if name == "ontology":
                assert page.locator(f"#{'Agency'}").count() == 1, "term anchors"
        finally:
            ctx.close()


def test_search_form_and_links_work_in_the_browser(browser, live_server):
    ctx = browser.new_context(viewport={"width": 375, "height": 800})
    page = ctx.new_page()
    try:
        page.goto(live_server.url + "/search", wait_until="load")
        page.fill("#q", "polícia")  # an accent the data may not have: accent-insensitive
        page.click("form.search button")
        page.wait_for_load_state("load")
        assert "q=pol" in page.url
        links = page.locator("ol.results a")
        assert links.count() >= 1
        links.first.click()
        page.wait_for_load_state("load")
        assert "/doc/" in page.url and page.locator("h1").count() == 1
        page.screenshot(path=str(ARTIFACTS / "search-click-375.png"), full_page=True)
    finally:
        ctx.close()
