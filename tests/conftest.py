"""Shared fixtures: the book built once per session, submissions made from the sources."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from course_cli import BIN, ROOT
from cpu_targets import GRADED_TARGETS, TARGETS
from xdist_sharing import run_folder, worker_name

# `make test` runs the tests in two steps: first those whose verdicts do not depend on timing,
# or hold by a wide margin beside another test's load, spread over every core by pytest-xdist;
# then those marked `timing`, alone, one test at a time, so no speed verdict is judged beside
# another test's load. A timing-sensitive module says so, and why, in its own code:
#     pytestmark = pytest.mark.timing(reason="...")
# and `pytest_collection_modifyitems` refuses a `timing` marker without a reason. The profiler
# classes (corpus, fuzzed notebooks, Dask, pipeline, failures) carry no marker: the profiler has
# no speed check, its hidden tests time scripted clocks, and the reference's calls last a
# fraction of the 5-10 s call limits those tests set (all passed on a 2-core machine with two
# busy loops running). Nor do the small classes with written answers (`written_answers`: one
# test cell that times nothing) and the formgrader's browser test. Nor does the seed example:
# its tiled matmul measured 7.2x its naive one beside the same two loops, where the test asks
# for more than 1x.
TIMING = "timing"
# Modules that use the session's built site: one xdist worker builds it once for all three.
BUILT_SITE_MODULES = {"test_book", "test_leaks", "test_site_browser"}
# Every other module of the first step is one xdist work unit, so its module fixtures (a graded
# class, say) run once, except these, whose tests run for up to a minute each and are spread
# over the workers (they share one Binder environment, `xdist_sharing`).
SPREAD_MODULES = {"test_student_release"}
# The longest work is handed out first (`--no-loadscope-reorder` keeps this order), so none of
# it starts when everything else is done: the book build (about 200 s on 2 cores), the
# student-tree runs (a minute each), then the graded classes (up to 100 s each). The short
# modules fill in at the end.
FIRST_MODULES = ("test_book", "test_leaks", "test_site_browser", "test_student_release",
                 "test_untrusted_notebooks", "test_corpus", "test_seed_example", "test_distributed_grading",
                 "test_pipeline", "test_profiler_grading", "test_grader_failures")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    # A test marked host_only runs for the host target only: its other targets are not
    # collected (deselected, not skipped: nothing CI should run is left out).
    other_targets = [item for item in items if item.get_closest_marker("host_only")
                     and getattr(item, "callspec", None) and item.callspec.params.get("target", "host") != "host"]
    if other_targets:
        config.hook.pytest_deselected(items=other_targets)
        items[:] = [item for item in items if item not in other_targets]
    for item in items:
        module = _module(item)
        timing = item.get_closest_marker(TIMING)
        if timing is not None:
            if not timing.kwargs.get("reason"):
                raise pytest.UsageError(f"{module}: a `timing` marker says why the test must run alone "
                                        f"(pytest.mark.timing(reason=...))")
        else:
            if module in BUILT_SITE_MODULES:
                item.add_marker(pytest.mark.xdist_group("built_site"))
            elif module not in SPREAD_MODULES:
                item.add_marker(pytest.mark.xdist_group(module))
    rank = {module: position for position, module in enumerate(FIRST_MODULES)}
    items.sort(key=lambda item: rank.get(_module(item), len(rank)))  # stable: the rest keep their order


def _module(item) -> str:
    return item.module.__name__ if item.module else ""


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The site built from the working tree with every chapter executed afresh.

    Uses the same flags as `make book` (-W -n --keep-going), so any cell error or Sphinx
    warning fails here, with execution forced so that no cache hides a broken chapter.
    """
    _claim_the_only_build(tmp_path_factory)
    out = tmp_path_factory.mktemp("site")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "force"
    # The copied config lives elsewhere: local extension paths must stay anchored here.
    extensions = config.get("sphinx", {}).get("local_extensions", {})
    for name, path in extensions.items():
        extensions[name] = str(ROOT / path)
    config_path = out / "_config.yml"
    config_path.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [BIN / "jupyter-book", "build", str(ROOT), "--path-output", str(out),
         "--config", str(config_path), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, env=dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}"))
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"book build failed:\n{log[-6000:]}"
    return out / "_build" / "html"


def _claim_the_only_build(tmp_path_factory) -> None:
    """Fail if another pytest-xdist worker of this run built the site too: BUILT_SITE_MODULES
    must share one worker (`--dist loadgroup`, which pytest 9.2 breaks: pytest-xdist#1386)."""
    worker = worker_name()
    if worker is None:
        return
    claim = run_folder(tmp_path_factory) / "built_site.worker"
    try:
        with claim.open("x") as handle:
            handle.write(worker)
    except FileExistsError:
        raise AssertionError(f"the site was built on {claim.read_text()} and again on {worker}: "
                             f"the built-site tests are no longer grouped on one worker") from None


def pytest_report_header(config):
    left_out = [target for target in TARGETS if target not in GRADED_TARGETS]
    return (f"CPU targets graded: {', '.join(GRADED_TARGETS)}"
            + (f" (not {', '.join(left_out)}: this host has no AVX-512, so its own target is an AVX2 one)"
               if left_out else ""))


@pytest.fixture(scope="module", params=GRADED_TARGETS)
def target(request) -> str:
    """A grading test module that asks for this fixture runs once per CPU target (cpu_targets.GRADED_TARGETS)."""
    return request.param
