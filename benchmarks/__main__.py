"""``python -m benchmarks``: minidl against PyTorch and a hand-written loop, as one table.

Every ratio comes from runs interleaved in this one process (see ``common.interleaved``), with
``torch.set_num_threads(1)``. ``--quick`` shrinks every workload to a smoke run (its numbers mean
nothing); ``--write`` also records the table in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import resource
import subprocess
import sys
import time
import weakref
from pathlib import Path

import torch

import minidl
from minidl import nn

from .common import Stopwatch, interleaved, machine_summary, markdown_table, median
from .workloads import (
    SEED,
    WIDE,
    MLPSpec,
    disk_data,
    grid,
    minidl_model,
    predict_grid_minidl,
    predict_grid_torch,
    torch_model,
    train_by_hand,
    train_minidl,
    train_minidl_loop,
    train_torch,
)

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"

TARGETS = {
    "seed": "fit() minidl/hand ≤ 1.10, eager loop minidl/PyTorch ≤ 0.50",
    "wide": "minidl/PyTorch ≤ 1.05",
    "grid": "≤ 2 ms",
    "memory": "RSS growth < 5%, no node alive after backward",
    "app": "window/headless ≥ 0.80, GUI timer lateness < 50 ms",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per contender (7)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument(
        "--only", choices=["seed", "wide", "grid", "memory", "app"], action="append",
        help="run only these workloads (repeatable)",
    )
    parser.add_argument(
        "--memory-steps", type=int, default=100_000, help="steps of the memory run (100000)"
    )
    parser.add_argument("--write", action="store_true", help="record the table in RESULTS.md")
    return parser.parse_args(argv)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 10 else f"{seconds:.2f} s"


def bench_training(
    label: str, spec: MLPSpec, repeats: int, hand: bool = True
) -> list[list[str]]:
    """Rows for one training workload: fit(), the explicit loop, PyTorch and by hand."""
    x, y = disk_data(spec.n_train, spec.sizes[-1])
    runs = {
        "fit": lambda: train_minidl(spec, x, y),
        "loop": lambda: train_minidl_loop(spec, x, y),
        "torch": lambda: train_torch(spec, x, y),
    }
    if hand:
        runs["hand"] = lambda: train_by_hand(spec, x, y)
    times = interleaved(runs, repeats)
    m = {k: median(v) for k, v in times.items()}
    steps = spec.epochs * spec.steps_per_epoch
    rows = []
    for name, key in (("minidl fit()", "fit"), ("minidl loop", "loop")):
        rows.append([
            f"{label}, {name}", f"{steps} steps", _ms(m[key]), _ms(m["torch"]),
            _ms(m["hand"]) if hand else "–", f"{paired_ratio(times, key, 'torch'):.2f}",
            f"{paired_ratio(times, key, 'hand'):.2f}" if hand else "–",
        ])
    return rows


def paired_ratio(times: dict[str, list[float]], a: str, b: str) -> float:
    """The median over rounds of a's time / b's time in the same round.

    Runs of one round follow each other within a second or two; this machine's speed drifts by
    ±15–30 % over tens of seconds, which a ratio of the two medians (taken from different
    moments) would carry into the ratio.
    """
    return median([x / y for x, y in zip(times[a], times[b], strict=True)])


def bench_grid(repeats: int, quick: bool) -> list[list[str]]:
    """Predicting the 100×100 decision grid with the seed network (median of many calls)."""
    points = grid(30 if quick else 100)
    torch.manual_seed(0)
    model, reference = minidl_model(SEED), torch_model(SEED)
    calls = 20 if quick else 200
    times = interleaved(
        {
            "minidl": lambda: predict_grid_minidl(model, points, calls),
            "torch": lambda: predict_grid_torch(reference, points, calls),
        },
        repeats,
    )
    m = {k: median(v) for k, v in times.items()}
    return [[
        f"predict the {len(points)}-point grid", "1 call", f"{m['minidl'] * 1e3:.3f} ms",
        f"{m['torch'] * 1e3:.3f} ms", "–", f"{m['minidl'] / m['torch']:.2f}", "–",
    ]]


def _rss_bytes() -> int:
    """Resident set size now (Linux /proc), falling back to the peak from getrusage."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_run(steps: int) -> tuple[float, bool, float]:
    """Train the seed network for ``steps`` steps: (RSS growth in %, graph freed?, seconds).

    RSS is read after the first tenth of the run (allocator pools warmed up) and at the end.
    "Graph freed" checks with weakrefs that after the last backward the network's output (an
    intermediate) is gone while the loss is still held, and the loss's node once it is dropped.
    """
    torch.manual_seed(0)
    x, y = disk_data(1000)
    model = minidl_model(SEED)
    opt = minidl.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.MSELoss()
    gen = torch.Generator().manual_seed(0)
    warm = max(steps // 10, 1)
    done, start_rss = 0, 0
    with Stopwatch() as sw:
        while done < steps:
            for xb, yb in minidl.data.batches(x, y, SEED.batch_size, generator=gen):
                out = model(xb)
                loss = loss_fn(out, yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                done += 1
                if done == warm:
                    gc.collect()
                    start_rss = _rss_bytes()
                if done >= steps:
                    break
    # the network's output is an intermediate of the loss's graph: it must die with our own
    # reference even while the loss is still held; the loss's node dies with the loss
    activation = weakref.ref(out)
    del out
    freed = activation() is None
    node = weakref.ref(loss.grad_fn)
    del loss
    freed = freed and node() is None
    gc.collect()
    growth = 100.0 * (_rss_bytes() - start_rss) / start_rss
    return growth, freed, sw.seconds


def app_run(seconds: float, repeats: int) -> list[str]:
    """The app's workload (benchmarks/app_throughput.py) in a process of its own, with its own
    QApplication (on $DISPLAY, else Qt's offscreen platform): its report as a text block."""
    import importlib.util

    if importlib.util.find_spec("PySide6") is None:
        return ["", "App run skipped: PySide6 is not installed (`pip install -e .[app]`)."]
    command = [
        sys.executable, "-m", "benchmarks.app_throughput",
        "--seconds", str(seconds), "--repeats", str(repeats),
    ]
    done = subprocess.run(
        command, cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True,
        check=False,
    )
    if done.returncode != 0:
        return ["", f"App run FAILED (exit code {done.returncode}):", "", "```",
                done.stderr.strip()[-2000:], "```"]
    return [
        "",
        f"App run (`python -m benchmarks.app_throughput --seconds {seconds:g} "
        f"--repeats {repeats}`, the seed experiment trained with Play in the real window "
        "against headless `fit()`, interleaved):",
        "",
        "```",
        done.stdout.strip(),
        "```",
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    only = set(args.only or ["seed", "wide", "grid", "memory", "app"])
    repeats = 1 if args.quick else args.repeats
    seed = MLPSpec(epochs=2) if args.quick else SEED
    wide = MLPSpec(sizes=(2, 64, 64, 1), batch_size=128, epochs=1, n_train=256) if args.quick \
        else WIDE
    header = [
        "workload", "size", "minidl", "PyTorch", "hand-written", "minidl/PyTorch",
        "minidl/hand",
    ]
    rows: list[list[str]] = []
    print(machine_summary(), file=sys.stderr)
    if "seed" in only:
        print("seed network ...", file=sys.stderr)
        rows += bench_training("seed 2-25-25-25-1, batch 50", seed, repeats)
    if "wide" in only:
        print("wide network ...", file=sys.stderr)
        rows += bench_training(
            f"wide {'-'.join(map(str, wide.sizes))}, batch {wide.batch_size}", wide, repeats
        )
    if "grid" in only:
        print("decision grid ...", file=sys.stderr)
        rows += bench_grid(repeats, args.quick)
    notes = []
    if "memory" in only:
        steps = 500 if args.quick else args.memory_steps
        print(f"memory, {steps} steps ...", file=sys.stderr)
        growth, freed, seconds = memory_run(steps)
        rows.append([
            "memory: seed network", f"{steps} steps", f"RSS {growth:+.1f}%", "–", "–", "–", "–",
        ])
        notes.append(
            f"Memory run: {steps} steps in {seconds:.1f} s, RSS growth {growth:+.2f}% from step "
            f"{max(steps // 10, 1)} to the end; last step's graph freed after backward: "
            f"{'yes' if freed else 'NO'}."
        )
    app_lines: list[str] = []
    if "app" in only:
        print("the app, training with live plots ...", file=sys.stderr)
        app_lines = app_run(0.5 if args.quick else 4.0, repeats if args.quick else 5)
    table = markdown_table(header, rows) if rows else ""
    today = datetime.date.today().isoformat()
    report = "\n".join([
        f"Run {today}: `python -m benchmarks"
        + (" --quick" if args.quick else f" --repeats {repeats}") + "`",
        "",
        machine_summary(),
        "",
        table,
        "",
        *notes,
        *app_lines,
        "",
        "Times are medians of the timed runs (CPU time of this process, so a busy machine "
        "disturbs them less); the contenders run round-robin in one process, and each training "
        "ratio is the median over rounds of the ratio within a round (the grid's: a ratio of "
        "medians). Targets: " + "; ".join(f"{k}: {v}" for k, v in TARGETS.items()) + ".",
    ])
    print(report)
    if args.write:
        RESULTS.write_text(_results_page(report))
        print(f"wrote {RESULTS}", file=sys.stderr)
    return 0


def _results_page(report: str) -> str:
    return (
        "# Benchmark results\n\n"
        "Latest `python -m benchmarks --write`; how each workload is measured is in "
        "`benchmarks/__main__.py` and `benchmarks/workloads.py`.\n\n" + report + "\n"
    )


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    sys.exit(code)
