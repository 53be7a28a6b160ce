"""A million points (issue 15 item 4): CSV import against numpy.loadtxt, an epoch, memory, stalls.

``python -m benchmarks.bigdata`` writes a CSV of 1,000,000 rows (x1, x2 as 17-digit doubles, a
label and a split: ~44 MB), then measures

1. parsing: playground.pointfile.read_points_file against ``numpy.loadtxt`` on the same file
   (numbers only, its fastest use), interleaved rounds; the line-by-line reader once;
2. one training epoch of the seed network over all points, headless (batch 50);
3. the window, in a process of its own: File > Import Points of the file (time the window is
   busy), then Play for a while and Pause, with a 10 ms QTimer on the GUI thread recording
   how late each tick comes (as benchmarks/app_throughput.py does) from before Play until the
   session is back; the resident memory of the window and of the worker process, before and
   after, against the file's size; what the plot says it shows.

``--rows N`` and ``--seconds S`` shrink it (``--quick``: a smoke run whose numbers mean nothing);
``--write`` appends the table to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .gui import TimerLateness, run_events

RESULTS = Path(__file__).with_name("RESULTS.md")


def write_csv(path: Path, rows: int, seed: int = 0) -> int:
    """A points file of ``rows`` rows (xor-like classes, a random split); its size in bytes."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-6, 6, size=(rows, 2))
    label = (xy[:, 0] * xy[:, 1] > 0).astype(int)
    test = rng.random(rows) < 0.5
    with open(path, "w", encoding="ascii") as f:
        f.write("x1,x2,label,split\n")
        for start in range(0, rows, 100_000):
            stop = min(rows, start + 100_000)
            f.writelines(
                f"{a!r},{b!r},{c},{'test' if t else 'train'}\n"
                for (a, b), c, t in zip(
                    xy[start:stop].tolist(),
                    label[start:stop].tolist(),
                    test[start:stop].tolist(),
                    strict=True,
                )
            )
    return path.stat().st_size


def parse_times(path: Path, rounds: int) -> dict[str, float]:
    """The app's reader and numpy.loadtxt on the same file, interleaved; best and median."""
    from playground.pointfile import read_points_file

    ours, numpy_times, ratios = [], [], []
    for _ in range(rounds):
        start = time.perf_counter()
        points = read_points_file(path)
        a = time.perf_counter() - start
        start = time.perf_counter()
        table = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(0, 1, 2))
        b = time.perf_counter() - start
        ours.append(a)
        numpy_times.append(b)
        ratios.append(a / b)
    same = np.array_equal(points.xy, table[:, :2]) and np.array_equal(points.label, table[:, 2])
    return {
        "reader_best_s": min(ours),
        "reader_median_s": statistics.median(ours),
        "loadtxt_best_s": min(numpy_times),
        "loadtxt_median_s": statistics.median(numpy_times),
        "ratio_median": statistics.median(ratios),
        "same_numbers": float(same),
    }


def line_reader_time(path: Path) -> float:
    """Seconds the line-by-line reader (the csv module; the old import) takes on the file."""
    from playground.pointfile import read_points_csv

    text = path.read_text(encoding="ascii")
    start = time.perf_counter()
    read_points_csv(text, plain=False)
    return time.perf_counter() - start


def epoch_time(path: Path) -> dict[str, float]:
    """One epoch of the seed network over every point of the file, headless, 1 thread."""
    import torch

    from playground.experiment import Experiment
    from playground.pointfile import read_points_file
    from playground.session import Session

    torch.set_num_threads(1)
    points = read_points_file(path)
    experiment = Experiment()
    experiment = experiment.replace(data=experiment.data.with_imported(points))
    start = time.perf_counter()
    session = Session(experiment)
    built = time.perf_counter() - start
    start = time.perf_counter()
    session.step(1)
    epoch = time.perf_counter() - start
    last = session.history.last()
    return {
        "point_bytes": points.xy.nbytes + points.label.nbytes + points.test.nbytes,
        "session_build_s": built,
        "epoch_s": epoch,
        "steps": session.steps,
        "train_points": len(session._x_train),
        "test_points": len(session._x_test),
        "test_accuracy": last["test_accuracy"],
    }


def _memory_kb(pid: int | None, field: str) -> int:
    """A process's VmRSS or VmHWM (peak) in kB, from /proc (0 where there is none)."""
    try:
        with open(f"/proc/{pid or 'self'}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _reset_peak(pid: int | None) -> None:
    """Start a process's VmHWM again from its current resident size (Linux's clear_refs)."""
    try:
        with open(f"/proc/{pid or 'self'}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def window_child(path: Path, seconds: float) -> dict[str, object]:
    """In this process: import ``path`` in the window, train ``seconds``, pause; measure."""
    from PySide6.QtWidgets import QApplication

    from playground.experiment import Experiment
    from playground.widgets.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow(Experiment(), build_now=False)
    window.ask_before_closing = False
    window.show()
    window.start()

    def until(condition: object, limit_s: float = 120.0) -> None:
        deadline = time.monotonic() + limit_s
        while not condition() and time.monotonic() < deadline:
            run_events(20)

    for _ in range(20):
        app.processEvents()
    window.step()  # the worker process starts, trains an epoch of the small default data
    until(lambda: window.controller.is_idle)
    worker = window.controller.worker_pid
    window_rss0, worker_rss0 = _memory_kb(None, "VmRSS"), _memory_kb(worker, "VmRSS")
    _reset_peak(None)  # the peaks from here on: the import's and the training's
    _reset_peak(worker)

    start = time.perf_counter()
    imported = window.import_points(path)
    import_s = time.perf_counter() - start
    run_events(200)
    window_rss_imported = _memory_kb(None, "VmRSS")
    window_peak_imported = _memory_kb(None, "VmHWM")

    timer = TimerLateness()
    timer.start()
    run_events(200)
    window.toggle_play()  # Play: the session and its points go to the worker
    run_events(int(seconds * 1000))
    worker_rss_training = _memory_kb(worker, "VmRSS")
    window.toggle_play()  # Pause: the session comes back after the current epoch
    until(lambda: window.controller.is_idle)
    run_events(200)
    lateness = timer.stop()
    snap = window.last_snapshot
    result = {
        "imported": imported,
        "import_s": import_s,
        "note": window.plots.boundary.note,
        "shown": window.plots.boundary._points,
        "epochs": snap.epoch,
        "steps": snap.steps,
        "train_loss": snap.train_loss,
        "test_accuracy": snap.test_accuracy,
        **lateness,
        "window_rss0_mb": window_rss0 / 1024,
        "window_rss_imported_mb": window_rss_imported / 1024,
        "window_peak_imported_mb": window_peak_imported / 1024,
        "window_rss_end_mb": _memory_kb(None, "VmRSS") / 1024,
        "window_peak_mb": _memory_kb(None, "VmHWM") / 1024,
        "worker_rss0_mb": worker_rss0 / 1024,
        "worker_rss_training_mb": worker_rss_training / 1024,
        "worker_peak_mb": _memory_kb(worker, "VmHWM") / 1024,
    }
    window.close()
    return result


def window_run(path: Path, seconds: float) -> dict[str, object]:
    """``window_child`` in a fresh process (its memory is the window's alone)."""
    env = dict(os.environ)
    if not env.get("DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bigdata", "--window-child", str(path), str(seconds)],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print (and with --write, record) the table."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.bigdata", description=__doc__)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--seconds", type=float, default=12.0, help="training time in the window")
    p.add_argument("--rounds", type=int, default=5, help="parse rounds")
    p.add_argument("--quick", action="store_true", help="5,000 rows, 1 s: a smoke run")
    p.add_argument("--write", action="store_true", help="append the table to RESULTS.md")
    p.add_argument("--window-child", nargs=2, metavar=("CSV", "SECONDS"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.window_child:
        print(json.dumps(window_child(Path(args.window_child[0]), float(args.window_child[1]))))
        return 0
    if args.quick:
        args.rows, args.seconds, args.rounds = 5_000, 1.0, 2
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "points.csv"
        size = write_csv(path, args.rows)
        parse = parse_times(path, args.rounds)
        lines = line_reader_time(path)
        epoch = epoch_time(path)
        window = window_run(path, args.seconds)
    mb = size / 2**20
    window_growth = window["window_rss_end_mb"] - window["window_rss0_mb"]
    window_peak = window["window_peak_mb"] - window["window_rss0_mb"]
    worker_growth = window["worker_rss_training_mb"] - window["worker_rss0_mb"]
    worker_peak = window["worker_peak_mb"] - window["worker_rss0_mb"]
    import_peak = window["window_peak_imported_mb"] - window["window_rss0_mb"]
    rows = [
        ("rows / CSV size", f"{args.rows:,} rows, {mb:.1f} MB"),
        (
            "parse: read_points_file",
            f"{parse['reader_best_s']:.3f} s best, {parse['reader_median_s']:.3f} s median",
        ),
        (
            "parse: numpy.loadtxt (numbers only)",
            f"{parse['loadtxt_best_s']:.3f} s best, {parse['loadtxt_median_s']:.3f} s median",
        ),
        (
            "reader / loadtxt (median of rounds)",
            f"{parse['ratio_median']:.2f} (target <= 1); same numbers: "
            f"{'yes' if parse['same_numbers'] else 'NO'}",
        ),
        ("line-by-line reader (csv module)", f"{lines:.2f} s"),
        (
            "one epoch, seed network, headless",
            f"{epoch['epoch_s']:.2f} s ({epoch['steps']:,} steps of 50; "
            f"{epoch['train_points']:,} train + {epoch['test_points']:,} test points; "
            f"test accuracy {epoch['test_accuracy']:.3f}); session built in "
            f"{epoch['session_build_s']:.2f} s",
        ),
        (
            "window: File > Import Points",
            f'{window["import_s"]:.2f} s (read, new session, plot); plot says "{window["note"]}"',
        ),
        (
            "window: training",
            f"{window['epochs']} epoch(s), {window['steps']:,} steps in {args.seconds:g} s; "
            f"test accuracy {window['test_accuracy']:.3f}",
        ),
        (
            "GUI 10 ms timer lateness, Play to Pause",
            f"max {window['late_max_ms']:.1f} ms, p99 {window['late_p99_ms']:.1f} ms "
            f"({window['ticks']} ticks; target < 50)",
        ),
        (
            "window memory growth (RSS; target <= 3x)",
            f"{window_growth:.0f} MB after training ({window_growth / mb:.2f}x the CSV); "
            f"peak {import_peak:.0f} MB importing ({import_peak / mb:.2f}x), "
            f"{window_peak:.0f} MB in all ({window_peak / mb:.2f}x)",
        ),
        (
            "worker memory growth (RSS; target <= 3x)",
            f"{worker_growth:.0f} MB while training ({worker_growth / mb:.2f}x the CSV); "
            f"peak {worker_peak:.0f} MB ({worker_peak / mb:.2f}x)",
        ),
        (
            "the points in memory (PointSet)",
            f"{epoch['point_bytes'] / 2**20:.1f} MB ({args.rows:,} x 18 bytes)",
        ),
    ]
    table = "| measurement | result |\n|---|---|\n" + "".join(f"| {a} | {b} |\n" for a, b in rows)
    print(table)
    if args.write:
        from .common import machine_summary

        today = datetime.date(2026, 12, 3).isoformat()
        with open(RESULTS, "a", encoding="utf-8") as f:
            f.write(
                f"\n## Issue 15 item 4 on {today}\n\n"
                f"A million points: `python -m benchmarks.bigdata` on the 2-core CI box "
                f"({machine_summary()}); load average {load[0]:.2f} / {load[1]:.2f} / "
                f"{load[2]:.2f} (1 / 5 / 15 min) when it started.\n\n{table}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
