"""The app's share of issue 4: training speed with live plots, and GUI-thread stalls.

``python -m benchmarks.app_throughput`` (under ``xvfb-run`` without a display; it falls back to
Qt's offscreen platform). Not part of the test suite.

1. Throughput: the seed experiment (2-25-25-25-1, disk, 1000 training points, batch 50, SGD) is
   trained for ``--seconds`` in the real window with Play (in the app's worker process), the
   plots redrawn at up to ~30 Hz, and, alternately in this process, with ``minidl.train.fit``
   alone on the same data, model and settings (per-epoch test metrics on, as in the app).
   Target: window / headless >= 0.80.
2. Stalls: a 10 ms QTimer on the GUI thread records how late each tick comes while the window
   trains. Target: the worst lateness < 50 ms (p99 reported too).
3. The network view (issue 12): ``--network 8x25`` trains an 8 x 25 ReLU network instead of the
   seed one; each repeat runs the window twice, the network dock hidden and shown (the default
   window shows it), and reports shown / hidden. Target: >= 0.90, lateness < 50 ms shown.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time

from .gui import TimerLateness, run_events

NETWORKS = {
    "seed": None,  # Experiment()'s own: 2-25-25-25-1
    "8x25": ",".join(["linear:25,relu"] * 8 + ["linear:1,sigmoid"]),
}


def experiment(network: str = "seed") -> object:
    """The seed experiment, with the network ``network`` (a NETWORKS key)."""
    from playground.experiment import Experiment, NetworkSpec

    text = NETWORKS[network]
    return Experiment() if text is None else Experiment(network=NetworkSpec.parse(text))


def headless_steps_per_second(seconds: float, network: str = "seed") -> dict[str, float]:
    """Steps per second of minidl.train.fit alone on the seed experiment's session data:
    per second of wall time and per second of this process's CPU time."""
    import torch

    from minidl.train import fit
    from playground.session import Session

    torch.set_num_threads(1)
    session = Session(experiment(network))
    epochs, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        fit(
            session.model,
            session._loss_fn,
            session.optimizer,
            (session._x_train, session._y_train),
            epochs=5,
            batch_size=session.experiment.train.batch_size,
            test=(session._x_test, session._y_test),
            generator=session._generator,
        )
        epochs += 5
    steps = epochs * session.steps_per_epoch
    return {
        "steps_per_second": steps / (time.perf_counter() - start),
        "steps_per_cpu_second": steps / (time.process_time() - cpu),
    }


def window_run(seconds: float, network: str = "seed", inside: bool = True) -> dict[str, float]:
    """Train in the shown window for ``seconds``; steps/s, snapshot rate and timer lateness.

    ``inside``: the network dock shown (as the window opens) or hidden."""
    from PySide6.QtWidgets import QApplication

    from playground.widgets.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow(experiment(network))
    window.ask_before_closing = False
    window.inside.network_dock.setVisible(inside)
    window.show()
    for _ in range(20):
        app.processEvents()
    snapshots = 0

    def count(_snap: object) -> None:
        nonlocal snapshots
        snapshots += 1

    window.controller.snapshot.connect(count)
    timer = TimerLateness()

    def steps_now() -> int:
        with window.controller.locked_session() as session:  # the worker's, between epochs
            return session.steps

    window.toggle_play()
    run_events(500)  # let the worker get going before the clock starts
    pid = window.controller.worker_pid
    start, steps0, snapshots = time.perf_counter(), steps_now(), 0
    cpu0, worker0 = time.process_time(), _cpu_seconds(pid)
    timer.start()
    run_events(int(seconds * 1000))
    steps, elapsed = steps_now() - steps0, time.perf_counter() - start
    window_cpu = (time.process_time() - cpu0) / elapsed
    worker_seconds = _cpu_seconds(pid) - worker0
    worker_cpu = worker_seconds / elapsed
    lateness = timer.stop()
    window.toggle_play()
    window.close()
    return {
        "steps_per_second": steps / elapsed,
        "snapshots_per_second": snapshots / elapsed,
        **lateness,
        "steps_per_cpu_second": steps / worker_seconds,
        "window_cpu": window_cpu,
        "worker_cpu": worker_cpu,
    }


def _cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) a process has used so far (Linux /proc; NaN elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    """Run the interleaved measurements and print a small table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.app_throughput")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each run")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each kind")
    parser.add_argument(
        "--network", choices=sorted(NETWORKS), default="seed", help="the network trained"
    )
    parser.add_argument(
        "--inside",
        choices=("shown", "hidden", "both"),
        default="both",
        help="window runs with the network dock shown, hidden, or one of each per repeat",
    )
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    import PySide6
    import torch
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    # headless, then (window, headless) per repeat: each window run sits between two headless
    # ones, and its ratio is taken against their geometric mean, so that this machine's drifts
    # in speed (often ±15 % from one run to the next) hit both sides of each ratio alike
    headless = [headless_steps_per_second(args.seconds, args.network)]
    windowed, hidden = [], []
    for _ in range(args.repeats):
        if args.inside in ("hidden", "both"):
            hidden.append(window_run(args.seconds, args.network, inside=False))
        if args.inside in ("shown", "both"):
            windowed.append(window_run(args.seconds, args.network, inside=True))
        headless.append(headless_steps_per_second(args.seconds, args.network))
    shown_label = "window, Play, plots + network view"
    if not windowed:  # hidden only: report those as the window's runs
        windowed, hidden = hidden, []
        shown_label = "window, Play, live plots"
    wall = [r["steps_per_second"] for r in headless]
    ratios = [
        r["steps_per_second"] / math.sqrt(a * b)
        for r, a, b in zip(windowed, wall, wall[1:], strict=False)
    ]
    h = statistics.median(wall)
    w = statistics.median(r["steps_per_second"] for r in windowed)
    ratio = statistics.median(ratios)
    per_cpu = statistics.median(r["steps_per_cpu_second"] for r in windowed) / statistics.median(
        r["steps_per_cpu_second"] for r in headless
    )
    late_max = max(r["late_max_ms"] for r in windowed)
    late_p99 = statistics.median(r["late_p99_ms"] for r in windowed)
    rate = statistics.median(r["snapshots_per_second"] for r in windowed)
    print(
        f"platform {app.platformName()}, PySide6 {PySide6.__version__}, torch "
        f"{torch.__version__}, {os.cpu_count()} cpu(s); {args.repeats} window runs, "
        f"{args.repeats + 1} headless, {args.seconds:g} s each; network {args.network}, "
        f"network view {args.inside}"
    )
    runs_h = ", ".join(f"{v:,.0f}" for v in wall)
    runs_w = ", ".join(f"{r['steps_per_second']:,.0f}" for r in windowed)
    runs_r = ", ".join(f"{v:.2f}" for v in ratios)
    verdict = "ok" if ratio >= 0.8 else "MISSED"
    print(f"{'headless fit()':<34}{h:>10,.0f} steps/s  (runs: {runs_h})")
    print(f"{shown_label:<34}{w:>10,.0f} steps/s  (runs: {runs_w}; {rate:.0f} Hz)")
    print(
        f"{'throughput window / headless':<34}{ratio:>10.2f}   target >= 0.80  {verdict}  "
        f"(median of runs: {runs_r})"
    )
    print(f"{'  the same per CPU second':<34}{per_cpu:>10.2f}   (the worker's own cost)")
    print(
        f"{'10 ms timer lateness, max':<34}{late_max:>10.1f} ms  target < 50  "
        f"{'ok' if late_max < 50 else 'MISSED'}"
    )
    print(f"{'10 ms timer lateness, p99':<34}{late_p99:>10.1f} ms")
    window_cpu = statistics.median(r["window_cpu"] for r in windowed)
    worker_cpu = statistics.median(r["worker_cpu"] for r in windowed)
    print(
        f"{'CPU while training':<34}window process {window_cpu:.0%}, worker process "
        f"{worker_cpu:.0%} of a core"
    )
    if hidden:
        h_steps = statistics.median(r["steps_per_second"] for r in hidden)
        inside_ratio = statistics.median(
            a["steps_per_second"] / b["steps_per_second"]
            for a, b in zip(windowed, hidden, strict=True)
        )
        h_late = max(r["late_max_ms"] for r in hidden)
        h_rate = statistics.median(r["snapshots_per_second"] for r in hidden)
        runs = ", ".join(f"{r['steps_per_second']:,.0f}" for r in hidden)
        print(
            f"{'window, network view hidden':<34}{h_steps:>10,.0f} steps/s  (runs: {runs}; "
            f"{h_rate:.0f} Hz; lateness max {h_late:.1f} ms)"
        )
        verdict = "ok" if inside_ratio >= 0.9 else "MISSED"
        print(
            f"{'network view shown / hidden':<34}{inside_ratio:>10.2f}   target >= 0.90  {verdict}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
