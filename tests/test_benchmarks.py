"""Every benchmark and experiment entry point runs end to end in its --quick mode.

Smoke tests only: tiny sizes, no timing assertions (timings live in benchmarks/RESULTS.md).
"""

from __future__ import annotations

import re

import pytest

from benchmarks import __main__ as bench
from benchmarks import bigdata, seed000, seed002, seed004, stacked


def test_benchmark_table_runs_quick(capsys):
    assert bench.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "| workload" in out
    for workload in ("seed 2-25-25-25-1", "wide", "grid", "memory"):
        assert workload in out
    assert "graph freed after backward: yes" in out
    assert "throughput window / headless" in out  # the app run, in a process of its own
    assert "torch" in out and "CPU" in out  # the machine and versions line


@pytest.mark.parametrize(
    ("module", "name"), [(seed000, "seed000"), (seed002, "seed002"), (seed004, "seed004")]
)
def test_seed_experiment_runs_quick(module, name, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert module.main(["--quick", "--out", str(tmp_path)]) == 0
    page = (tmp_path / f"{name}.md").read_text()
    assert page.startswith("# Seed")
    assert "![" in page and f"({name}.png)" in page
    png = (tmp_path / f"{name}.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert "|" in capsys.readouterr().out  # the markdown table is printed too


def test_bigdata_runs_quick(capsys):
    """The million-point benchmark end to end on 5,000 rows: parse, epoch, window, memory."""
    assert bigdata.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "same numbers: yes" in out  # the app's reader and numpy.loadtxt read the same file
    assert "5,000 rows" in out and "window: File > Import Points" in out
    assert "GUI 10 ms timer lateness" in out and "worker memory growth" in out
    epochs = re.search(r"\| window: training \| (\d+) epoch", out)
    assert epochs and int(epochs.group(1)) >= 1  # trained through the worker process


def test_stacked_benchmark_runs_quick(capsys):
    assert stacked.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "| contender" in out
    for contender in ("3 stacked (fit's step)", "loop of 3 models", "torch.func ensemble of 3"):
        assert contender in out
    for ratio in ("stacked step / single step (fit's)", "stacked / PyTorch loop",
                  "stacked / torch.func"):
        assert f"{ratio}: " in out
