"""Benchmark: a class graded serially and on a local Dask cluster, scores compared.

For the profiler assignment (the default) the class is copies of the reference solution
and every entry of the hostile corpus (one that hangs, one killed for memory, a segfault,
a fork bomb, ...), at least 40 submissions. For an assignment with speed checks it is
copies of the reference and the untouched release, graded against one calibration made
here first, so the two runs judge speed against the same thresholds. The class is graded
twice into fresh course directories, once in this process and once with `--workers N`;
the throughput ratio, each run's scores (which must be identical) and where the time went
are saved with the machine's description, with a projection for a course of 500 students
and 5 assignments.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the corpus and the submission builders are test data

from autograder.calibrate import calibrate, calibration_path, speed_check_ids  # noqa: E402
from autograder.distributed import DaskGrading  # noqa: E402
from autograder.grading import ClassGrader  # noqa: E402
from autograder.release import assignment_names  # noqa: E402
from corpus import APPEND, CORPUS  # noqa: E402
from coursekit.machine import describe_machine  # noqa: E402
from saving import save  # noqa: E402
from student_work import released_notebook, student_notebook, write_submission  # noqa: E402

# Seconds per call: short, so a hanging submission costs seconds, not the default minutes,
# yet four times what the slowest honest entry (the 500,000-line printer) needs on a loaded
# machine. Beside the fork bomb it took 21 s until each submission got a cpu cgroup.
CALL_TIMEOUT = 20.0
# The course to plan for: students x assignments, on these numbers of workers.
COURSE_SUBMISSIONS = 500 * 5
PLANNED_WORKERS = (1, 8, 64)


def write_class(assignment: str, folder: Path, size: int) -> int:
    """The class described above, up to `size` entries; returns the count."""
    if assignment == "profiler":
        planted = {}
        for attack in CORPUS:
            edits = {grade_id: (lambda source, edit=edit: source + edit) if edit.startswith(APPEND)
                     else (lambda source, edit=edit: edit) for grade_id, edit in attack.edits.items()}
            planted[attack.name] = student_notebook(assignment, assignment, edits=edits)
    else:
        planted = {"stub": released_notebook(assignment)}
    for student, nb in planted.items():
        write_submission(folder, student, nb, assignment)
    copies = max(size - len(planted), 1)
    for number in range(copies):
        write_submission(folder, f"reference_{number:03d}", student_notebook(assignment, assignment), assignment)
    return len(planted) + copies


def grade(assignment: str, folder: Path, course: Path, cluster: DaskGrading | None) -> tuple[float, dict]:
    grader = ClassGrader(course, assignment, call_timeout=CALL_TIMEOUT)
    started = time.monotonic()
    results = grader.grade_all(folder, force=True, cluster=cluster, progress=lambda line: print(line, flush=True))
    return time.monotonic() - started, {r.student_id: r.score for r in results}


def calibrated_courses(assignment: str, root: Path) -> tuple[Path, Path]:
    """The serial and the Dask run's course directories, with one calibration between them."""
    courses = root / "serial", root / "dask"
    if speed_check_ids(assignment):
        calibrate(assignment, root / "calibration")
        for course in courses:
            course.mkdir()
            shutil.copy(calibration_path(root / "calibration"), calibration_path(course))
    return courses


def main() -> None:
    warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's, as in the CLI
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", choices=assignment_names(), default="profiler",
                        help="the assignment whose class is graded (default: %(default)s)")
    parser.add_argument("--size", type=int, default=40, help="submissions in the class (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="Dask workers (default: %(default)s)")
    parser.add_argument("--output", type=Path, help="where the results go (default: "
                        "benchmarks/results/grading_throughput_<assignment>.json)")
    args = parser.parse_args()
    print(describe_machine().summary())
    with tempfile.TemporaryDirectory(prefix="throughput-") as tmp:
        folder = Path(tmp) / "class"
        size = write_class(args.assignment, folder, args.size)
        serial_course, dask_course = calibrated_courses(args.assignment, Path(tmp))
        serial_seconds, serial_scores = grade(args.assignment, folder, serial_course, None)
        cluster = DaskGrading(workers=args.workers)
        dask_seconds, dask_scores = grade(args.assignment, folder, dask_course, cluster)
    differing = sorted(s for s in serial_scores if serial_scores[s] != dask_scores.get(s))
    per_submission = statistics.median(cluster.worker_seconds)
    recording = statistics.median(cluster.recording_seconds)
    # The client records one outcome at a time: with many workers it becomes the limit.
    projection = {workers: COURSE_SUBMISSIONS * max(per_submission / workers, recording) / 3600
                  for workers in PLANNED_WORKERS}
    print(f"{size} submissions: serial {serial_seconds:.0f} s, {args.workers} workers {dask_seconds:.0f} s "
          f"({serial_seconds / dask_seconds:.2f}x); scores identical: {not differing}")
    print(f"median per submission on a worker {per_submission:.1f} s; client recording {recording:.2f} s")
    for workers, hours in projection.items():
        print(f"500 students x 5 assignments at this one's {per_submission:.1f} s a submission, on {workers} "
              f"worker{'s' if workers > 1 else ''}: about {hours:.1f} h")
    output = args.output or ROOT / f"benchmarks/results/grading_throughput_{args.assignment}.json"
    save(output, assignment=args.assignment, size=size, workers=args.workers, call_timeout=CALL_TIMEOUT,
         serial_seconds=serial_seconds, dask_seconds=dask_seconds,
         throughput_ratio=serial_seconds / dask_seconds, scores_differ=differing,
         serial_scores=serial_scores, dask_scores=dask_scores,
         median_worker_seconds=per_submission, median_recording_seconds=recording,
         projected_hours={str(k): v for k, v in projection.items()})
    if differing:
        sys.exit(f"scores differ between the runs for: {', '.join(differing)}")


if __name__ == "__main__":
    main()
