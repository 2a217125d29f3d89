"""Marking by hand in nbgrader's formgrader, in a real browser, on a class `autograder` graded.

A small class (`written_answers`: one test cell, one answer for a person) is graded; the
formgrader is started in its course directory as the instructor guide says; the browser
autogrades one submission again from the formgrader (through the course's sandboxed pipeline:
the test cell passes only there), opens the submission, enters a score and a comment on the
answer cell; `autograder export` and `autograder feedback` then include them, and a forced
regrade keeps them.
"""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from course_cli import BIN, run_cli
from test_site_browser import CHROMIUM, CHROMIUM_FLAGS
from written_answers import ANSWER_ID, ANSWER_POINTS, ASSIGNMENT, NOTEBOOK, TEST_POINTS, grade, write_solutions

pytestmark = pytest.mark.slow
TOKEN = "formgrader-test"
STARTUP_SECONDS = 60  # the server starts in about 5 s on 2 busy cores
UI_TIMEOUT_MS = 30_000  # one step in the browser; autograding one submission takes about 10 s
MARK, COMMENT = "2.5", "Names the loop; give a number next time."
ANSWERS = {"alice": "The loop runs in C, not in the interpreter.", "bob": None}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("formgrader")
    solutions = write_solutions(root / "solutions")
    grade(root / "course", solutions, ANSWERS, root / "submissions")
    return root / "course", solutions, root / "submissions"


@pytest.fixture(scope="module")
def formgrader(course, tmp_path_factory):
    """`jupyter server` in the course directory, as the guide starts it: (url, log path)."""
    course_dir = course[0]
    home = tmp_path_factory.mktemp("jupyter")
    port = _free_port()
    command = [BIN / "jupyter", "server", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={course_dir}",
               f"--Exchange.root={home / 'exchange'}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    # A config and runtime folder of its own: no user configuration reaches the server.
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    log_path = home / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(command, cwd=course_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert server.poll() is None, f"the server stopped:\n{log_path.read_text()[-4000:]}"
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, f"no server after {STARTUP_SECONDS} s:\n{log_path.read_text()}"
                time.sleep(0.5)
        yield url, log_path
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def page(formgrader):
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run must install Debian's chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.goto(f"{formgrader[0]}/formgrader?token={TOKEN}")  # the token becomes a cookie
        yield page
        browser.close()


def _rows(course_dir: Path) -> dict[str, dict]:
    path = course_dir / "grades.csv"
    run_cli("export", ASSIGNMENT, "--course-dir", course_dir, "-o", path)
    with path.open() as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def test_a_mark_given_in_the_formgrader_reaches_the_export_and_the_feedback(course, formgrader, page):
    course_dir, solutions, submissions = course
    url, log_path = formgrader
    rows = _rows(course_dir)
    assert float(rows["alice"]["score"]) == float(rows["alice"]["max_score"]) == TEST_POINTS
    assert float(rows["alice"]["manual_pending"]) == ANSWER_POINTS

    # Autograde alice again from the formgrader: nbgrader's own autograde, in the server,
    # with the course's nbgrader_config.py. Her test cell passes only in the sandboxed pipeline.
    page.goto(f"{url}/formgrader/manage_submissions/{ASSIGNMENT}")
    page.locator("tr", has=page.locator("td", has_text="alice")).locator(".autograde a").click()
    modal = page.locator("#success-modal, #error-modal")
    modal.wait_for()
    assert page.locator("#success-modal").count() == 1, modal.inner_text()
    assert float(_rows(course_dir)["alice"]["test_total"]) == TEST_POINTS, log_path.read_text()[-3000:]

    # The notebook's submissions: both listed, alice's flagged for manual grading.
    page.goto(f"{url}/formgrader/gradebook/{ASSIGNMENT}/{NOTEBOOK}")
    listed = page.locator("tbody tr", has=page.locator("a.name-shown"))
    listed.first.wait_for()
    assert listed.count() == 2
    alice = page.locator("tbody tr", has=page.locator("a.name-shown", has_text="alice"))
    assert alice.locator(".needs-manual-grade span").count() == 1
    bob = page.locator("tbody tr", has=page.locator("a.name-shown", has_text="bob"))
    assert bob.locator(".needs-manual-grade span").count() == 0

    # Alice's submission: the test cell shows its score, the answer cell takes a mark and a comment.
    page.goto(url + alice.locator("a.name-shown").get_attribute("href"))
    page.locator(f"#{ANSWER_ID}").wait_for()
    expect(page.locator("#test_total")).to_have_attribute("placeholder", str(TEST_POINTS))  # its autograded score
    assert "The loop runs in C" in page.locator("body").inner_text()
    with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url and r.request.method == "PUT"):
        page.locator(f"#{ANSWER_ID}").fill(MARK)
        page.locator(f"#{ANSWER_ID}").press("Tab")
    with page.expect_response(lambda r: "/formgrader/api/comment/" in r.url and r.request.method == "PUT"):
        page.locator(f"#{ANSWER_ID}-comment").fill(COMMENT)
        page.locator(f"#{ANSWER_ID}-comment").press("Tab")

    rows = _rows(course_dir)
    assert float(rows["alice"][ANSWER_ID]) == float(MARK)
    assert float(rows["alice"]["score"]) == TEST_POINTS + float(MARK)
    assert float(rows["alice"]["max_score"]) == TEST_POINTS + ANSWER_POINTS
    assert float(rows["alice"]["manual_pending"]) == 0
    listed = run_cli("feedback", ASSIGNMENT, "--course-dir", course_dir)
    assert "alice" in listed.stderr, listed.stderr
    page_html = (course_dir / "feedback" / "alice" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert COMMENT in page_html and f"{TEST_POINTS + float(MARK):g}" in page_html

    # A forced regrade runs the tests again and keeps the mark, counted, and the comment.
    regraded = grade(course_dir, solutions, ANSWERS, submissions, force=True)
    assert not regraded["alice"].skipped and regraded["alice"].score == TEST_POINTS + float(MARK)
    rows = _rows(course_dir)
    assert float(rows["alice"]["score"]) == TEST_POINTS + float(MARK) and float(rows["alice"]["manual_pending"]) == 0
    page.reload()
    expect(page.locator(f"#{ANSWER_ID}")).to_have_value(MARK)
    expect(page.locator(f"#{ANSWER_ID}-comment")).to_have_value(COMMENT)
