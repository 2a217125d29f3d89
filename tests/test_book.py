"""The site builds from the working tree, warning-free, with measured outputs and figures."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import ROOT

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


def test_chapters_show_the_machine_they_were_measured_on(built_site):
    from coursekit.machine import describe_machine

    cpu = describe_machine().cpu_model
    for page in ("book/measurement", "book/build_status"):
        assert cpu in (built_site / f"{page}.html").read_text(), page


def test_figures_are_present_and_not_empty(built_site):
    page = (built_site / "book" / "measurement.html").read_text()
    images = re.findall(r'<img [^>]*src="([^"]+\.png)"', page)
    assert len(images) >= 3, "the measurement chapter draws at least three figures"
    for src in images:
        assert (built_site / "book" / src).resolve().stat().st_size > 5_000, src


def test_status_page_lists_each_executed_chapter(built_site):
    page = (built_site / "book" / "build_status.html").read_text()
    assert "measurement" in page
