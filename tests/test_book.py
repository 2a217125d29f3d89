"""The site builds from the working tree, warning-free, with measured outputs and figures."""

from __future__ import annotations

import re

import pytest
import yaml

from course_cli import ROOT

pytestmark = pytest.mark.slow


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def test_every_toc_page_is_built(built_site):
    for page in _toc_files():
        assert (built_site / f"{page}.html").stat().st_size > 0, page


def _chapters() -> list[str]:
    return [page for page in _toc_files()
            if page not in ("book/intro", "book/build_status", "book/instructor_guide")]


def test_chapters_show_the_machine_they_were_measured_on(built_site):
    from coursekit.machine import describe_machine

    cpu = describe_machine().cpu_model
    for page in _chapters() + ["book/build_status"]:
        assert cpu in (built_site / f"{page}.html").read_text(), page


@pytest.mark.parametrize("page", _chapters())
def test_chapter_figures_are_present_and_not_empty(built_site, page):
    html = (built_site / f"{page}.html").read_text()
    images = re.findall(r'<img [^>]*src="([^"]+\.png)"', html)
    assert len(images) >= 2, f"{page} draws its measurements as figures"
    for src in images:
        assert (built_site / "book" / src).resolve().stat().st_size > 5_000, src


@pytest.mark.parametrize("page", _chapters())
def test_chapter_ends_with_exercises_pointing_to_an_assignment(built_site, page):
    html = (built_site / f"{page}.html").read_text()
    assert 'id="exercises"' in html and "assignments/" in html, page


def _execution_table(page: str) -> dict[str, list[str]]:
    """The status page's {nb-exec-table}: document -> its cells (modified, method, run time, status)."""
    body = page[page.index("<th class=\"head\"><p>Document</p></th>"):]
    body = body[body.index("<tbody>"):body.index("</tbody>")]
    table = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.DOTALL):
        cells = re.findall(r"<td><p>(.*?)</p></td>", row, re.DOTALL)
        document = re.search(r'<span class="doc">([^<]+)</span>', cells[0])
        assert document, f"a row of the execution table names no document: {row}"
        table[document.group(1)] = cells[1:]
    return table


def test_status_page_lists_each_executed_chapter(built_site):
    # Every chapter has its row, executed afresh (the fixture forces execution) without error.
    table = _execution_table((built_site / "book" / "build_status.html").read_text())
    for chapter in _chapters():
        assert chapter in table, f"{chapter} is missing from the execution table: {sorted(table)}"
        _, method, _, status = table[chapter]
        assert (method, status) == ("force", "\N{WHITE HEAVY CHECK MARK}"), (chapter, table[chapter])
