"""IsolatedExecute: nbgrader's Execute step with student code and tests in separate processes."""

from __future__ import annotations

import ast
import contextlib
import io
import time
import traceback
import warnings

import pytest
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Float, Integer, Unicode

from autograder import machine_lock
from autograder.cells import grader_setup_cells, is_instructor_cell, is_test_cell, python_source
from autograder.defaults import CALL_TIMEOUT
from autograder.sandbox import Limits, StudentProcess
from autograder.session import GradingSession, active
from autograder.speed import Credit
from autograder.thresholds import Calibration

TEST_CELL_FILENAME = "<test cell>"
# What a failing test cell raises. pytest's outcomes (`pytest.raises` that saw no error,
# `pytest.fail`, `pytest.skip`) derive from BaseException, not Exception.
TEST_FAILURES = (Exception, pytest.fail.Exception, pytest.skip.Exception)


def run_source(source: str, namespace: dict):
    """Execute a cell's source like a notebook does; return the last expression's value."""
    tree = ast.parse(python_source(source), TEST_CELL_FILENAME)
    last = tree.body[-1] if tree.body else None
    if isinstance(last, ast.Expr):
        tree.body.pop()
    else:
        last = None
    exec(compile(tree, TEST_CELL_FILENAME, "exec"), namespace)
    if last is not None:
        return eval(compile(ast.Expression(last.value), TEST_CELL_FILENAME, "eval"), namespace)
    return None


def _error_output(error: BaseException):
    """The error as feedback: the test's own lines, the verdict, and the submission's notes."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == TEST_CELL_FILENAME]
    lines = ["Traceback (most recent call last):"]
    lines += [f'  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames]
    lines.append(f"{type(error).__name__}: {error}")
    lines += getattr(error, "__notes__", [])
    return new_output("error", ename=type(error).__name__, evalue=str(error), traceback=lines)


class IsolatedExecute(Execute):
    """Runs student cells in a sandboxed process and test cells in the grader."""

    memory_limit = Integer(
        Limits.memory_bytes,
        help="Address-space limit of the submission's process, in bytes.",
    ).tag(config=True)
    call_timeout = Float(
        CALL_TIMEOUT,
        help="Wall-clock seconds one call into the submission may take "
             "(Execute.timeout bounds a whole test cell).",
    ).tag(config=True)

    calibration_file = Unicode(
        "",
        help="JSON thresholds of the speed checks on this machine (`autograder calibrate`).",
    ).tag(config=True)
    calibrating = Bool(
        False,
        help="Record the speedups of the speed checks instead of judging them.",
    ).tag(config=True)

    def preprocess(self, nb, resources):
        calibration = Calibration.load(self.calibration_file) if self.calibration_file else None
        session = GradingSession(self._limits(), calibration, self.calibrating)
        try:
            with active(session):
                nb, resources = self._run_notebook(nb, resources, session)
        finally:
            session.close()
        resources["speed_measurements"] = session.measurements
        resources["reference_values"] = session.reference_values
        return nb, resources

    def _run_notebook(self, nb, resources, session: GradingSession):
        session.source = "\n\n".join(
            c.source for c in nb.cells
            if c.cell_type == "code" and not is_test_cell(c) and not is_instructor_cell(c))
        self._execution_count = 0
        process = None
        namespace: dict = {}
        startup_failure = None  # set when the submission's own cells hang or crash
        try:
            for cell in nb.cells:
                if not is_test_cell(cell):
                    continue
                if startup_failure is None and (process is None or not process.alive):
                    # First test, or the previous test killed the process: start afresh.
                    first = process is None
                    if process is not None:
                        process.close()
                    process = StudentProcess(self._limits())
                    with machine_lock.shared():
                        try:
                            self._start_submission(nb, process)
                        except Exception as exc:
                            startup_failure = exc
                        else:
                            self._bind_names(nb, process, namespace, first)
                if startup_failure is not None:
                    self._record(cell, "", startup_failure, None)
                else:
                    assert process is not None  # started above, or alive from the previous test
                    session.student = process
                    self._run_test_cell(cell, namespace, process, session)
        finally:
            if process is not None:
                process.close()
        return nb, resources

    # -- helpers, called in order ----------------------------------------------------

    def _limits(self) -> Limits:
        return Limits(memory_bytes=self.memory_limit, cpu_seconds=Limits.cpu_seconds,
                      call_timeout=self.call_timeout)

    def _start_submission(self, nb, process: StudentProcess) -> None:
        """Run every non-test code cell in `process`, recording each cell's outputs."""
        process.start()
        if process.confinement.startswith("unconfined"):
            self.log.warning("Submission not confined (%s): it can read the grading user's files",
                             process.confinement)
        cells = [(i, c.source) for i, c in enumerate(nb.cells)
                 if c.cell_type == "code" and not is_test_cell(c)]
        started = time.monotonic()
        try:
            ran = process.run_cells(cells)
        except Exception as exc:  # the submission hung or crashed before any test ran
            self.log.warning("Submission cells did not finish: %s", exc)
            if cells:
                nb.cells[cells[-1][0]].outputs = [_error_output(exc)]
            raise
        self._student_names = ran.names
        self.log.info("Ran %d submission cells in %.1f s", len(cells), time.monotonic() - started)
        for result in ran.results:
            cell = nb.cells[result.index]
            cell.outputs = []
            if result.stdout:
                cell.outputs.append(new_output("stream", name="stdout", text=result.stdout))
            for shown in result.displays:
                cell.outputs.append(new_output("display_data", data=shown))
            if result.error is not None:
                cell.outputs.append(new_output("error", ename=result.error.name, evalue=result.error.message,
                                               traceback=result.error.traceback.splitlines()))

    def _bind_names(self, nb, process: StudentProcess, namespace: dict, first: bool) -> None:
        """Student names become proxies (or plain values); instructor cells then win."""
        if first:
            self._instructor_names: set[str] = set()
        for name in self._student_names:
            if name in self._instructor_names:
                continue
            try:
                namespace[name] = process.get(name)
            except Exception as exc:
                self.log.warning("Could not bind student name %s: %s", name, exc)
        if not first:
            return
        namespace.setdefault("__name__", "__main__")
        before = dict(namespace)
        for cell in grader_setup_cells(nb):
            try:
                run_source(cell.source, namespace)
            except Exception as exc:
                self.log.error("Instructor cell failed in the grader: %s", exc)
        self._instructor_names = {k for k, v in namespace.items()
                                  if k not in before or before[k] is not v}

    def _run_test_cell(self, cell, namespace: dict, process: StudentProcess, session: GradingSession) -> None:
        process.transcript.clear()
        process.deadline = time.monotonic() + self.timeout if self.timeout else None
        printed = io.StringIO()
        value = error = None
        with contextlib.ExitStack() as stack:
            stack.enter_context(contextlib.redirect_stdout(printed))
            stack.enter_context(contextlib.redirect_stderr(printed))
            stack.enter_context(warnings.catch_warnings())
            stack.enter_context(machine_lock.shared())  # a speed check in it times alone
            try:
                value = run_source(cell.source, namespace)
            except TEST_FAILURES as exc:  # a failing test is a verdict, not a grader error
                error = exc
        process.deadline = None
        session.passed_cells[cell.metadata["nbgrader"]["grade_id"]] = error is None
        self._record(cell, "".join(process.transcript) + printed.getvalue(), error, value)

    def _record(self, cell, text: str, error: BaseException | None, value) -> None:
        """Write a test cell's outputs the way nbgrader scores them."""
        self._execution_count += 1
        cell.execution_count = self._execution_count
        cell.outputs = []
        if text:
            cell.outputs.append(new_output("stream", name="stdout", text=text))
        if error is not None:
            cell.outputs.append(_error_output(error))
        elif isinstance(value, Credit):
            # nbgrader reads a number in the last output as the cell's partial score.
            points = float(cell.metadata["nbgrader"]["points"]) * value.fraction
            cell.outputs.append(new_output("stream", name="stdout", text=value.message + "\n"))
            cell.outputs.append(new_output("execute_result", data={"text/plain": f"{points:g}"},
                                           execution_count=self._execution_count))
        elif value is not None:
            # Shown as text, never as a result: nbgrader would read a number there as
            # partial credit, and a test's last value may come from the submission.
            cell.outputs.append(new_output("stream", name="stdout", text=repr(value) + "\n"))
