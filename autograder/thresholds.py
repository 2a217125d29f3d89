"""Speed thresholds and the versioned calibration file they are kept in.

`autograder calibrate` measures the reference solution's speedup for every speed check
on the grading machine; each becomes a `Threshold` (full credit from R ** 0.5, none at
or below R ** 0.2: `coursekit.speedcheck` holds the rule students read). A `Calibration`
is the set of thresholds of one machine, saved with its fingerprint.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

from coursekit.machine import describe_machine
from coursekit.speedcheck import credit_share, thresholds

# A reference solution must beat its baseline by at least this much on the grading
# machine for the check to tell an optimised kernel from an unoptimised one. Below it the
# machine cannot judge the check (one core for a prange check; a CPU where the untiled loop
# keeps pace with tiles, as on AVX2-only EPYCs for the blocking check): thresholds there
# would be noise, so the check is recorded as not judged and says so in every verdict.
MIN_REFERENCE_SPEEDUP = 1.2
# Checks whose reference varies more between gradings than that minimum allows for. Full
# credit from R ** 0.5 still goes to a kernel as good as the reference when the reference
# measures up to sqrt(R) times less at grading than at calibration. The blocking check's
# reference moves with the machine's state where memory feeds the untiled loop well (the
# register-blocked, packed reference measures little over 2x there; a tiles-only one less
# than the untiled loop at times), from one allocation of the same inputs to the next, so
# it is judged only where the reference clears a margin that such a drop leaves full credit
# for (the instructor guide, "Blocking (matmul)", has the measurements).
MIN_REFERENCE_SPEEDUP_FOR = {"matmul.tiled_vs_reordered": 2.0}
# Bumped whenever the file's meaning changes: an old file is refused, not misread.
CALIBRATION_VERSION = 1


class CalibrationError(Exception):
    """No usable calibration for a speed check on this machine."""


@dataclass(frozen=True)
class Threshold:
    """Speedups that earn full and zero credit for one check on one machine."""

    reference_speedup: float
    full_credit: float
    zero_credit: float
    minimum: float = MIN_REFERENCE_SPEEDUP  # the reference speedup the check needs to be judged

    @classmethod
    def from_reference(cls, speedup: float, minimum: float = MIN_REFERENCE_SPEEDUP) -> Threshold:
        if not speedup >= minimum:
            return cls(speedup, 0.0, 0.0, minimum=minimum)  # no thresholds: see credit()
        return cls(speedup, *thresholds(speedup), minimum=minimum)

    @property
    def judged(self) -> bool:
        """False where this machine cannot tell the kernels apart (see MIN_REFERENCE_SPEEDUP)."""
        return self.reference_speedup >= self.minimum

    def credit(self, speedup: float) -> float:
        """The share earned; a check this machine cannot judge costs a correct kernel nothing."""
        return credit_share(speedup, self.full_credit, self.zero_credit) if self.judged else 1.0

    def not_judged_reason(self) -> str:
        return (f"the reference solution is only {self.reference_speedup:.2f}x faster than its baseline "
                f"on this machine, below the {self.minimum:g}x needed to tell an optimised kernel "
                f"from an unoptimised one reliably")


@dataclass
class Calibration:
    """Thresholds per check, measured on one machine (named by its fingerprint)."""

    machine: dict
    checks: dict[str, Threshold] = field(default_factory=dict)
    measurements: dict[str, list[float]] = field(default_factory=dict)
    # Quantities other than speedups that hidden tests judge against the reference solution
    # on this machine (`autograder.testing.calibrated_value`): every run's value, by key.
    reference_values: dict[str, list[float]] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return self.machine["fingerprint"]

    def save(self, path: Path) -> None:
        data = {"version": CALIBRATION_VERSION, "machine": self.machine,
                "checks": {k: asdict(v) for k, v in sorted(self.checks.items())},
                "measurements": self.measurements, "reference_values": self.reference_values}
        Path(path).write_text(json.dumps(data, indent=1))

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        data = json.loads(Path(path).read_text())
        if data.get("version") != CALIBRATION_VERSION:
            raise CalibrationError(f"{path} was written by another version of the grader; calibrate again")
        return cls(data["machine"], {k: Threshold(**v) for k, v in data["checks"].items()},
                   data.get("measurements", {}), data.get("reference_values", {}))

    @classmethod
    def from_measurements(cls, measurements: dict[str, list[float]],
                          reference_values: dict[str, list[float]] | None = None) -> Calibration:
        """Thresholds from repeated runs of the reference solution: the median of each check."""
        checks = {check: Threshold.from_reference(statistics.median(values),
                                                  MIN_REFERENCE_SPEEDUP_FOR.get(check, MIN_REFERENCE_SPEEDUP))
                  for check, values in measurements.items()}
        return cls(describe_machine().as_dict(), checks, measurements, dict(reference_values or {}))

    def reference_value(self, key: str) -> float:
        """The median of the reference solution's values of `key` on this machine."""
        if key not in self.reference_values:
            raise CalibrationError(f"no calibrated value for {key!r}: run `autograder calibrate` "
                                   f"on this grading machine first")
        return statistics.median(self.reference_values[key])

    def not_judged(self) -> dict[str, Threshold]:
        return {check: threshold for check, threshold in self.checks.items() if not threshold.judged}
