"""The benchmarks still run: each on a tiny load, checked for its figures' shape only.

Speed is measured by `make bench`, never asserted here; this keeps the scripts
from rotting between the runs that fill README's table.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def run_bench(script: str, *args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


def test_pipeline_bench_prints_both_rates_and_the_ratio_last() -> None:
    lines = run_bench("pipeline.py", "--n", "300", "--batch", "50")
    assert re.fullmatch(r"ratio=\d+\.\d{3}", lines[-1])
    assert float(lines[-1].removeprefix("ratio=")) > 0
    out = "\n".join(lines)
    assert "stored 300 mentions" in out
    assert re.search(r"per mention: dedupe\+judge\+respond \d+ us, store \d+ us", out)


def test_console_bench_prints_the_worst_page_against_the_trivial_route(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "console.db")
    lines = run_bench("console.py", "--mentions", "500", "--pending", "50", "--n", "5", "--db", db)
    assert re.fullmatch(r"ratio=\d+(\.\d+)?", lines[-1])


def test_latency_bench_prints_streaming_and_polling_p95() -> None:
    lines = run_bench(
        "latency.py",
        "--n",
        "10",
        "--rate",
        "50",
        "--interval",
        "1",  # the least a platform source may be polled at
        "--quiet",
        "2",
        "--gap",
        "0.1",
    )
    assert re.fullmatch(r"stream_p95=\d+\.\d+ poll_p95=\d+\.\d+", lines[-2])
    assert re.fullmatch(r"ratio=\d+\.\d{4}", lines[-1])
