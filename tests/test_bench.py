"""The benchmarks still run: each on a tiny load, checked for its figures' shape only.

Speed is measured by `make bench`, never asserted here; this keeps the scripts
from rotting between the runs that fill README's table.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from storage.store import Store

BENCH = Path(__file__).resolve().parent.parent / "bench"


def bench(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def run_bench(script: str, *args: str) -> list[str]:
    done = bench(script, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


def refused(script: str, *args: str) -> str:
    """What a bench says when it will not run with `args` (a usage error, exit 2)."""
    done = bench(script, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    return done.stderr


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
    again = run_bench("console.py", "--n", "5", "--db", db)
    assert again[0] == f"store: reusing {db}"


@pytest.mark.parametrize(
    ("script", "args", "said"),
    [
        ("pipeline.py", ["--n", "0"], "argument --n: must be 1 or more, got 0"),
        ("pipeline.py", ["--n", "-3"], "argument --n: must be 1 or more, got -3"),
        ("pipeline.py", ["--batch", "0"], "argument --batch: must be 1 or more, got 0"),
        ("pipeline.py", ["--batch", "-1"], "argument --batch: must be 1 or more, got -1"),
        ("console.py", ["--n", "1"], "argument --n: must be 2 or more, got 1"),
        ("console.py", ["--pending", "0"], "argument --pending: must be 1 or more, got 0"),
        (
            "console.py",
            ["--mentions", "500", "--pending", "200"],
            "--pending 200: --mentions 500 hold at most 158",
        ),
        ("latency.py", ["--rate", "0"], "argument --rate: must be a number above 0, got 0"),
        ("latency.py", ["--n", "0"], "argument --n: must be 1 or more, got 0"),
    ],
)
def test_a_bench_refuses_counts_it_cannot_run_with(script: str, args: list[str], said: str) -> None:
    assert said in refused(script, *args)


def test_console_bench_will_not_touch_a_database_it_did_not_fill(tmp_path: Path) -> None:
    real = tmp_path / "earful.db"
    with Store.open(real) as store:
        store.add_user("ana", "admin", None, actor="test")
    before = real.read_bytes()
    said = refused("console.py", "--n", "5", "--db", str(real))
    assert "is not a store this bench filled" in said
    assert real.read_bytes() == before


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
