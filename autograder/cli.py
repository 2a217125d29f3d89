"""`autograder`: the instructor's command line (release, check-sync, student-release, calibrate,
grade, export, feedback)."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from autograder.defaults import CALIBRATION_RUNS, CALL_TIMEOUT, DEFAULT_COURSE_DIR, TEST_CELL_TIMEOUT

# What `--help` prints first (not the docstring: `python -OO` drops docstrings).
DESCRIPTION = ("the instructor's command line (release, check-sync, student-release, calibrate, "
               "grade, export, feedback)")
# Exit statuses (argparse exits 2 for a usage error).
OK, ERROR, GRADED_WITH_PROBLEMS = 0, 1, 3

EXAMPLES = """\
examples:
  autograder release                          regenerate assignments/ from solutions/
  autograder check-sync                       fail with a diff if assignments/ is stale
  autograder student-release ../student --branch student   the tree students clone
  autograder calibrate matmul                 measure speed thresholds on this machine
  autograder grade profiler submissions.zip   grade a class into grading/gradebook.db
                                              (exit 3 if some entries have problems)
  autograder grade simd subs/ --workers 2     the same on a local Dask cluster
  autograder grade simd subs/ --scheduler tcp://head:8786   on an existing Dask cluster
  autograder export profiler -o grades.csv    one row per student, one column per test
  autograder feedback profiler                list every student's feedback page (written
                                              again where a person has marked the student)

exit status: 0 done; 1 an error stopped the command (the reason is printed); 2 a usage
error; 3 (grade) the class was graded, but some entries have problems (each has its row).
"""


def _release(args) -> int:
    from autograder.release import write_release

    for path in write_release(assignments=args.assignment or None):
        print(f"wrote {path}")
    return OK


def _check_sync(args) -> int:
    from autograder.release import sync_diff

    diff = sync_diff()
    if diff:
        print(diff)
        print("assignments/ is out of sync with solutions/: run `autograder release` and commit.",
              file=sys.stderr)
        return ERROR
    print("assignments/ matches a fresh generation from solutions/.")
    return OK


def _student_release(args) -> int:
    from autograder.student_release import build_tree, commit_to_branch

    files = build_tree(args.out)
    print(f"wrote {len(files)} files to {args.out}; no solution or hidden test found in them")
    if args.branch:
        commit = commit_to_branch(args.out, args.branch)
        print(f"committed them as branch {args.branch} ({commit[:12]}): point Binder at it")
    return OK


def _grader(args):
    from autograder.grading import ClassGrader

    return ClassGrader(args.course_dir, args.assignment,
                       cell_timeout=getattr(args, "cell_timeout", TEST_CELL_TIMEOUT),
                       call_timeout=getattr(args, "call_timeout", CALL_TIMEOUT),
                       force_calibration=getattr(args, "force_calibration", False))


def _calibrate(args) -> int:
    from autograder.calibrate import calibrate, calibration_path

    calibration = calibrate(args.assignment, args.course_dir, runs=args.runs,
                            cell_timeout=args.cell_timeout, call_timeout=args.call_timeout)
    for check, threshold in sorted(calibration.checks.items()):
        if threshold.judged:
            print(f"{check}: reference {threshold.reference_speedup:.2f}x -> full credit from "
                  f"{threshold.full_credit:.2f}x, none at or below {threshold.zero_credit:.2f}x")
        else:
            print(f"{check}: reference {threshold.reference_speedup:.2f}x -> NOT JUDGED on this machine: "
                  f"{threshold.not_judged_reason()}. Every correct kernel gets this check's points here; to "
                  f"judge it, calibrate and grade on a machine (or a quieter moment) where it can be judged.")
    print(f"wrote {calibration_path(args.course_dir)} for {calibration.machine['cpu_model']} "
          f"(fingerprint {calibration.fingerprint})")
    return OK


def _grade(args) -> int:
    """OK when every entry was graded cleanly, GRADED_WITH_PROBLEMS when some have problems."""
    from autograder import confinement, submission_cgroup
    from autograder.grading import ERROR_LOG
    from autograder.sandbox import Limits

    print(f"File isolation: {confinement.describe()}")
    print(f"Processes and CPU: {submission_cgroup.describe(Limits().tasks)}")
    cluster = None
    if args.workers is not None or args.scheduler is not None:
        from autograder.distributed import DaskGrading

        cluster = DaskGrading(workers=args.workers, scheduler=args.scheduler)
    grader = _grader(args)
    results = grader.grade_all(args.submissions, force=args.force, cluster=cluster)
    width = max(len(r.student_id) for r in results)
    print(f"\n{'student'.ljust(width)}  score      problem")
    for r in results:
        print(f"{r.student_id.ljust(width)}  {r.score:>5g}/{r.max_score:<4g} {r.problem or ''}")
    problems = sum(1 for r in results if r.problem)
    print(f"\n{len(results)} graded ({problems} with problems) into {args.course_dir / 'gradebook.db'}")
    failures = sum(1 for r in results if r.grader_error)
    if failures:
        print(f"The grader failed on {failures} submission(s); tracebacks in "
              f"{args.course_dir / ERROR_LOG}")
    calibration_file = grader.config.IsolatedExecute.get("calibration_file")
    if calibration_file:
        from autograder.thresholds import Calibration

        for check, threshold in sorted(Calibration.load(calibration_file).not_judged().items()):
            print(f"NOT JUDGED on this machine: {check} ({threshold.not_judged_reason()}); "
                  f"every correct kernel got its points")
    return GRADED_WITH_PROBLEMS if problems else OK


def _export(args) -> int:
    from autograder.reports import export_csv

    rows = export_csv(args.course_dir, args.assignment, args.output)
    print(f"wrote {rows} rows to {args.output}")
    return OK


def _feedback(args) -> int:
    from autograder.manual_grades import refresh_feedback
    from autograder.reports import feedback_pages

    marked = refresh_feedback(args.course_dir, args.assignment)
    if marked:
        print(f"wrote again, with the marks and comments given by hand: {', '.join(marked)}",
              file=sys.stderr)
    pages = feedback_pages(args.course_dir, args.assignment)
    for page in pages:
        print(page)
    if not pages:
        print(f"no feedback yet: run `autograder grade {args.assignment} SUBMISSIONS` first",
              file=sys.stderr)
        return ERROR
    return OK


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _add_limits(command) -> None:
    """The limits of a submission's (and a baseline's) process: grading and calibration share them."""
    command.add_argument("--cell-timeout", type=int, default=TEST_CELL_TIMEOUT,
                         help="seconds per test cell (default: %(default)s)")
    command.add_argument("--call-timeout", type=float, default=CALL_TIMEOUT,
                         help="seconds one call into the submission may take, running its "
                              "cells included (default: %(default)s)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autograder", description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    release = commands.add_parser("release", help="generate the student notebooks in assignments/",
                                  description="Generate assignments/<name>/ from solutions/<name>/ "
                                              "with nbgrader (solutions and hidden tests removed).")
    release.add_argument("assignment", nargs="*", help="assignments to release (default: all)")
    release.set_defaults(run=_release)

    check = commands.add_parser("check-sync", help="check that assignments/ matches solutions/",
                                description="Regenerate every assignment in a temporary folder and "
                                            "compare it with assignments/; exit 1 with a diff if not equal.")
    check.set_defaults(run=_check_sync)

    student = commands.add_parser("student-release", help="write the student tree (no solutions)",
                                  description="Write what students get (book sources without "
                                              "instructor pages, assignments, coursekit, binder, a "
                                              "README) into a new folder, check it for leaks, and "
                                              "optionally commit it to a branch for Binder.")
    student.add_argument("out", type=Path, help="new folder to write the student tree into")
    student.add_argument("--branch", help="also commit the tree as this branch of the repository")
    student.set_defaults(run=_student_release)

    def course_command(name, help_text, description):
        command = commands.add_parser(name, help=help_text, description=description)
        command.add_argument("assignment", help="assignment name, e.g. profiler")
        command.add_argument("--course-dir", type=Path, default=DEFAULT_COURSE_DIR,
                             help="nbgrader course directory (default: %(default)s)")
        return command

    grade = course_command("grade", "grade a folder or zip of submissions",
                           "Autograde every student's notebook: student code runs in a sandboxed "
                           "process, hidden tests in the grader. Writes the gradebook and a "
                           "feedback page per student.")
    grade.add_argument("submissions", type=Path,
                       help="folder or .zip: <student>/<notebook>.ipynb or <student>.ipynb entries")
    grade.add_argument("--force", action="store_true", help="regrade unchanged submissions too")
    grade.add_argument("--force-calibration", action="store_true",
                       help="judge speed with a calibration measured on another machine")
    _add_limits(grade)
    where = grade.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_positive_int, metavar="N",
                       help="grade on a local Dask cluster of N single-threaded worker processes "
                            "(default: serially, in this process)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="grade on an existing Dask cluster: a scheduler address "
                            "(tcp://host:8786) or a scheduler file")
    grade.set_defaults(run=_grade)

    calibrate = course_command("calibrate", "measure speed thresholds on this machine",
                               "Run the reference solution's speed checks several times on this "
                               "machine and store the thresholds with its fingerprint.")
    calibrate.add_argument("--runs", type=int, default=CALIBRATION_RUNS,
                           help="runs of the reference solution (default: %(default)s)")
    _add_limits(calibrate)
    calibrate.set_defaults(run=_calibrate)

    export = course_command("export", "write the grades as CSV",
                            "Write one row per student: total, each test cell's score, problem.")
    export.add_argument("-o", "--output", type=Path, default=Path("grades.csv"),
                        help="CSV file to write (default: %(default)s)")
    export.set_defaults(run=_export)

    feedback = course_command("feedback", "list the feedback pages",
                              "List each student's feedback page (HTML, written by `grade`); the "
                              "pages of students marked by hand (in the formgrader) are written "
                              "again first, so that they show the marks and comments.")
    feedback.set_defaults(run=_feedback)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # nbgrader's gradebook code triggers SQLAlchemy "not in session" warnings on every
    # submission; they are not actionable for an instructor.
    warnings.filterwarnings("ignore", message=".*not in session.*")
    from autograder.grading import GradingError
    from autograder.release import ReleaseError
    from autograder.reports import ReportError
    from autograder.student_release import LeakError
    from autograder.submissions import SubmissionsError
    from autograder.thresholds import CalibrationError

    try:
        return args.run(args)
    except (CalibrationError, GradingError, LeakError, ReleaseError, ReportError, SubmissionsError,
            FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ERROR


if __name__ == "__main__":
    sys.exit(main())
