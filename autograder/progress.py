"""One line per graded entry, for a person watching a class being graded."""

from __future__ import annotations

import time
from collections.abc import Callable


class ProgressLine:
    """Done/total, this entry's result, and the class's rate and time left."""

    def __init__(self, total: int, emit: Callable[[str], None] = print):
        self.total, self.done, self.emit = total, 0, emit
        self._started = time.monotonic()

    def started(self, student: str) -> None:
        self.emit(f"[{self.done + 1}/{self.total}] {student} ...")

    def finished(self, result):
        """Report a GradeResult and hand it back."""
        self.done += 1
        elapsed = time.monotonic() - self._started
        rate = self.done / elapsed * 60 if elapsed > 0 else 0.0
        left = (self.total - self.done) * elapsed / self.done
        status = "unchanged, kept earlier grade" if result.skipped else f"{result.seconds:.1f} s"
        line = (f"[{self.done}/{self.total}] {result.student_id}: {result.score:g}/"
                f"{result.max_score:g} ({status})")
        if result.problem:
            line += f" - {result.problem}"
        self.emit(f"{line}  [{rate:.1f}/min, {_duration(left)} left]")
        return result


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"
