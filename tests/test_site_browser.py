"""The built site in a real browser (Debian's chromium driven by playwright)."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from course_cli import ROOT

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
# Flags for a sandboxed container with no network: no GPU, no background connections.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts"


def _pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]


CHAPTERS = [p for p in _pages() if p not in ("book/intro", "book/build_status", "book/instructor_guide")]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site_url(built_site):
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run must install Debian's chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: m.type == "error" and page.problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: page.problems.append(f"request failed: {r.url}"))
    yield page
    context.close()


@pytest.mark.parametrize("name", _pages() + ["search", "genindex"])
def test_page_loads_without_errors_and_its_links_resolve(page, site_url, built_site, name):
    page.goto(f"{site_url}/{name}.html", wait_until="networkidle")
    assert page.problems == []
    for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
        url = urlparse(href)
        if url.netloc == urlparse(site_url).netloc:
            target = built_site / url.path.lstrip("/")
            assert target.is_file() or (target / "index.html").is_file(), f"{name}: broken link {href}"


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_shows_executed_outputs_and_rendered_figures(page, site_url, name):
    page.goto(f"{site_url}/{name}.html", wait_until="networkidle")
    assert page.locator(".cell_output").count() > 3, "executed outputs are on the page"
    widths = page.eval_on_selector_all(".cell_output img", "imgs => imgs.map(i => i.naturalWidth)")
    assert widths and min(widths) > 100, f"every figure decodes to a real image: {widths}"
    assert page.locator("button.copybtn").count() > 0, "code cells have copy buttons"


def test_search_finds_a_term(page, site_url):
    page.goto(f"{site_url}/search.html?q=cache", wait_until="networkidle")
    page.wait_for_selector("#search-results li", timeout=20_000)
    assert page.locator("#search-results li").count() > 0


def test_launch_button_points_at_the_configured_binder(page, site_url):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repository = urlparse(config["repository"]["url"]).path.strip("/")
    expected = f"{config['launch_buttons']['binderhub_url']}/v2/gh/{repository}/{config['repository']['branch']}"
    page.goto(f"{site_url}/{CHAPTERS[0]}.html", wait_until="networkidle")
    links = page.eval_on_selector_all("a[href*='/v2/gh/']", "links => links.map(a => a.href)")
    assert links and all(link.startswith(expected) for link in links), links


def test_screenshots_of_the_landing_page_and_a_chapter(page, site_url):
    ARTIFACTS.mkdir(exist_ok=True)
    for name in ("book/intro", CHAPTERS[0]):
        page.goto(f"{site_url}/{name}.html", wait_until="networkidle")
        path = ARTIFACTS / f"{name.replace('/', '_')}.png"
        page.screenshot(path=str(path), full_page=False)
        assert path.stat().st_size > 10_000
