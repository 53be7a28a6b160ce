"""Issue 14 item 4: the Compare and Sweep windows keep the GUI responsive while they train.

``python -m benchmarks.compare_window`` (under ``xvfb-run`` without a display; it falls back to
Qt's offscreen platform). Not part of the test suite (tests/test_benchmarks.py smoke-runs it
with ``--quick``).

With the main window shown, a 10 ms QTimer on the GUI thread records how late each tick comes
(as benchmarks/app_throughput.py does) while:

1. Compare trains 16 variants of the seed experiment (2-25-25-25-1, 1000 training points, batch
   50; learning rates 0.001 … 3) with its tiles and curves live;
2. the same while the main window trains too (two worker processes on the two cores);
3. Sweep trains a 4 × 4 grid × 3 seeds (48 runs stacked as one) with its progress bar.

Also reported: how long Play itself holds the GUI thread and the worst lateness in the 1 s
around it (the press, the 16 new tiles' first frames), and Compare's model-steps per second
(stacked steps × variants) against the main
window's steps per second training one model. Target: worst lateness < 50 ms in each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

from .gui import TimerLateness, run_events

RATES = "0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 1.5, 2, 3"


def _lateness(seconds: float, during: Any = None) -> dict[str, float]:
    """Run the event loop ``seconds`` with a 10 ms timer; its ticks' lateness. ``during``, if
    given, is called from the event loop 200 ms in (what it holds up is measured with it)."""
    from PySide6.QtCore import QTimer

    timer = TimerLateness()
    timer.start()
    if during is not None:
        QTimer.singleShot(200, during)
    run_events(int(seconds * 1000))
    return timer.stop()


def _steps(controller: Any) -> int:
    with controller.locked_session() as session:
        return session.steps


def compare_run(seconds: float, with_main: bool) -> dict[str, float]:
    """Compare with 16 variants playing (and the main window training, ``with_main``)."""
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QWidget

    from playground.experiment import Experiment
    from playground.widgets.main_window import MainWindow

    window = MainWindow(Experiment())
    window.ask_before_closing = False
    window.show()
    run_events(500)
    started = time.perf_counter()
    window.findChild(QAction, "compare").trigger()  # imports, builds and shows the window
    open_ms = (time.perf_counter() - started) * 1000
    compare = window.findChild(QWidget, "compare_window")
    compare.values.setText(RATES)
    compare.make_variants()
    snapshots = 0

    def count(_snap: object) -> None:
        nonlocal snapshots
        snapshots += 1

    compare.controller.snapshot.connect(count)
    run_events(1500)  # the window's worker has started, as in a window open for a while
    play_ms = 0.0

    def play() -> None:
        nonlocal play_ms
        started = time.perf_counter()
        compare.toggle_play()  # builds the 16 variants and hands them to the worker
        play_ms = (time.perf_counter() - started) * 1000

    # the stall around Play: the press itself and the first frames of the 16 new tiles
    play_late = _lateness(1.2, during=play)["late_max_ms"]
    if with_main:
        window.toggle_play()
    run_events(1000)  # both workers going before the clock starts
    steps0, main0, start, snapshots = _steps(compare.controller), 0, time.perf_counter(), 0
    if with_main:
        main0 = _steps(window.controller)
    result = _lateness(seconds)
    elapsed = time.perf_counter() - start
    result["play_ms"] = play_ms
    result["open_ms"] = open_ms
    result["play_late_ms"] = play_late
    result["model_steps_per_second"] = (_steps(compare.controller) - steps0) * 16 / elapsed
    result["snapshots_per_second"] = snapshots / elapsed
    if with_main:
        result["main_steps_per_second"] = (_steps(window.controller) - main0) / elapsed
    window.close()
    return result


def main_run(seconds: float) -> float:
    """The main window alone training the seed network: steps per second."""
    from playground.experiment import Experiment
    from playground.widgets.main_window import MainWindow

    window = MainWindow(Experiment())
    window.ask_before_closing = False
    window.show()
    window.toggle_play()
    run_events(1000)
    steps0, start = _steps(window.controller), time.perf_counter()
    run_events(int(seconds * 1000))
    rate = (_steps(window.controller) - steps0) / (time.perf_counter() - start)
    window.close()
    return rate


def sweep_run(seconds: float, epochs: int) -> dict[str, float]:
    """Sweep of 4 learning rates × 4 L2 × 3 seeds playing, its progress bar live."""
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QWidget

    from playground.experiment import Experiment
    from playground.widgets.main_window import MainWindow

    window = MainWindow(Experiment())
    window.ask_before_closing = False
    window.show()
    window.findChild(QAction, "sweep").trigger()
    sweep = window.findChild(QWidget, "sweep_window")
    sweep.row_values.setText("0.01, 0.03, 0.1, 0.3")
    sweep.column_values.setText("0, 0.0001, 0.001, 0.01")
    sweep.epochs.setValue(epochs)
    run_events(1500)  # the fork server has loaded torch, as in a window open for a while
    start = time.perf_counter()
    sweep.run()  # checks the plan, builds the sweep, hands it to a new worker
    run_ms = (time.perf_counter() - start) * 1000
    result = _lateness(seconds)
    result["run_ms"] = run_ms
    while not sweep.finished and time.perf_counter() - start < 600:
        run_events(100)
    result["sweep_seconds"] = time.perf_counter() - start if sweep.finished else float("nan")
    window.close()
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print a small table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare_window")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each run")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each kind")
    parser.add_argument("--quick", action="store_true", help="a smoke run (numbers mean nothing)")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.repeats = 0.5, 1
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import PySide6
    import torch
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    torch.set_num_threads(1)
    alone, both, single, sweeps = [], [], [], []
    for _ in range(args.repeats):
        single.append(main_run(args.seconds))
        alone.append(compare_run(args.seconds, with_main=False))
        both.append(compare_run(args.seconds, with_main=True))
        sweeps.append(sweep_run(args.seconds, 2 if args.quick else 100))
    print(
        f"platform {app.platformName()}, PySide6 {PySide6.__version__}, torch "
        f"{torch.__version__}, {os.cpu_count()} cpu(s); {args.repeats} runs of "
        f"{args.seconds:g} s each"
    )
    one = statistics.median(single)
    print(f"{'main window, one model':<44}{one:>10,.0f} steps/s")
    for label, runs in (("Compare, 16 variants", alone), ("Compare + main window training", both)):
        rate = statistics.median(r["model_steps_per_second"] for r in runs)
        late = max(r["late_max_ms"] for r in runs)
        p99 = statistics.median(r["late_p99_ms"] for r in runs)
        hz = statistics.median(r["snapshots_per_second"] for r in runs)
        play = max(r["play_ms"] for r in runs)
        play_late = max(r["play_late_ms"] for r in runs)
        opened = max(r["open_ms"] for r in runs)
        print(
            f"{label:<44}{rate:>10,.0f} model-steps/s ({rate / one:.1f}x one model; {hz:.0f} Hz)"
            f"  lateness max {late:.1f} ms, p99 {p99:.1f} ms  "
            f"{'ok' if late < 50 else 'MISSED'}; Play itself {play:.0f} ms, lateness around "
            f"Play {play_late:.0f} ms {'ok' if play_late < 50 else 'MISSED'}; opening the "
            f"window {opened:.0f} ms"
        )
    main_rate = statistics.median(r["main_steps_per_second"] for r in both)
    print(f"{'  the main window meanwhile':<44}{main_rate:>10,.0f} steps/s")
    late = max(r["late_max_ms"] for r in sweeps)
    p99 = statistics.median(r["late_p99_ms"] for r in sweeps)
    took = statistics.median(r["sweep_seconds"] for r in sweeps)
    run = max(r["run_ms"] for r in sweeps)
    print(
        f"{'Sweep, 4 x 4 x 3 seeds (48 runs)':<44}{took:>10.1f} s for all runs"
        f"  lateness max {late:.1f} ms, p99 {p99:.1f} ms  {'ok' if late < 50 else 'MISSED'}"
        f"; Run itself {run:.0f} ms"
    )
    print(f"load average while measuring: {os.getloadavg()[0]:.2f} (1 min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
