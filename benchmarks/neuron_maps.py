"""The network view's maps (issue 12): how long ``Session.neuron_maps`` takes per snapshot.

For the seed network (2-25-25-25-1) and an 8×25 network (eight hidden Linear 25 + ReLU layers),
at 16×16 and 32×32 grid points: the session's own weights, and a Snapshot's weights (what the
window does at the snapshot rate: load them into its viewer copy, then run layer by layer).
Median milliseconds per call over ``--repeats`` rounds of ``--calls`` calls, one torch thread
as in the app. Target: 16×16 maps of the seed network in a few ms. Not part of the test run.

    python -m benchmarks.neuron_maps [--repeats 15] [--calls 50] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import partial

import torch

from playground.experiment import Experiment, LayerSpec, NetworkSpec
from playground.session import Session

from .common import machine_summary, markdown_table, median

NETWORKS = {
    "seed 2-25-25-25-1": NetworkSpec.seed(),
    "8×25 ReLU": NetworkSpec(
        (
            *[LayerSpec("linear", units=25), LayerSpec("relu")] * 8,
            LayerSpec("linear", units=1),
            LayerSpec("sigmoid"),
        )
    ),
}
SIZES = (16, 32)


def per_call_ms(call: Callable[[], object], calls: int, repeats: int) -> float:
    """Median over ``repeats`` rounds of the mean milliseconds of one call in a round."""
    call()  # warm the caches (grid inputs, viewer copy)
    rounds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        rounds.append((time.perf_counter() - start) / calls * 1e3)
    return median(rounds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.neuron_maps", description=__doc__)
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds (15)")
    parser.add_argument("--calls", type=int, default=50, help="calls per round (50)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: numbers mean nothing")
    args = parser.parse_args(argv)
    repeats, calls = (2, 2) if args.quick else (args.repeats, args.calls)
    torch.set_num_threads(1)
    rows = []
    for name, network in NETWORKS.items():
        session = Session(Experiment(network=network))
        session.step(1)  # trained weights, and a gradient for the snapshot
        weights = session.snapshot(weights=True, grid=False).weights
        for size in SIZES:
            own = per_call_ms(partial(session.neuron_maps, size), calls, repeats)
            sent = per_call_ms(partial(session.neuron_maps, size, weights), calls, repeats)
            rows.append([name, f"{size}×{size}", f"{own:.2f}", f"{sent:.2f}"])
    print(machine_summary())
    print(
        markdown_table(
            ["network", "grid", "neuron_maps ms (own weights)", "ms (a Snapshot's weights)"],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
