"""Benchmark results saved with the machine's description and the BLAS in use."""

from __future__ import annotations

import json
from pathlib import Path

from threadpoolctl import threadpool_info

from coursekit.machine import describe_machine


def save(path: Path, **results) -> None:
    """Write the results with the machine's description and the BLAS in use."""
    blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": describe_machine().as_dict(), "blas": blas, **results}, indent=1))
    print(f"saved {path}")
