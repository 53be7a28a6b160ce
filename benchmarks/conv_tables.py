"""Seed 003's Tables I–III for minidl's image layers: differences from torch, and time per call.

Every layer runs on a (100, 3, 10, 10) float32 batch, in minidl and in torch with the same
weights. Table I: the forward difference |ΔZ| = |Z_minidl - Z_torch|; Table II: the backward
differences of dL/dX, dL/dW and dL/db (upstream gradient a fixed random tensor, or the loss
itself for MSE); each as the mean over elements, then mean ± standard deviation over runs (the
seed's format) and the largest single-element difference seen. Table III: time per forward call
and per forward + backward call, minidl next to torch, timed round-robin in one process.

    python -m benchmarks.conv_tables            # writes docs/experiments/conv.md
    python -m benchmarks.conv_tables --quick    # a smoke run into a temporary folder
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

import minidl
from minidl import nn

from .common import interleaved, markdown_table, mean_sd
from .experiments import header, output_dir, parser

BATCH = (100, 3, 10, 10)


@dataclass(frozen=True)
class Case:
    """One layer as the seed benchmarks it: a minidl module and its torch twin."""

    name: str
    ours: Callable[[], nn.Module]
    theirs: Callable[[], torch.nn.Module]
    is_loss: bool = False  # the loss itself: called as (output, target)


CASES = [
    Case("ReLU", nn.ReLU, torch.nn.ReLU),
    Case("Sigmoid", nn.Sigmoid, torch.nn.Sigmoid),
    Case("MSE", nn.MSELoss, torch.nn.MSELoss, is_loss=True),
    Case(
        "Conv2d(3, 16, 3, stride=2, padding=1)",
        lambda: nn.Conv2d(3, 16, 3, stride=2, padding=1),
        lambda: torch.nn.Conv2d(3, 16, 3, stride=2, padding=1),
    ),
    Case("Upsample(2) (nearest)", lambda: nn.Upsample(2),
         lambda: torch.nn.Upsample(scale_factor=2)),
    Case(
        "Upsampling: Upsample(2) + Conv2d(3, 3, 3, padding=1)",
        lambda: nn.Sequential(nn.Upsample(2), nn.Conv2d(3, 3, 3, padding=1)),
        lambda: torch.nn.Sequential(
            torch.nn.Upsample(scale_factor=2), torch.nn.Conv2d(3, 3, 3, padding=1)
        ),
    ),
    Case(
        "ConvTranspose2d(3, 16, 3, stride=2, padding=1, output_padding=1)",
        lambda: nn.ConvTranspose2d(3, 16, 3, stride=2, padding=1, output_padding=1),
        lambda: torch.nn.ConvTranspose2d(3, 16, 3, stride=2, padding=1, output_padding=1),
    ),
    Case("MaxPool2d(2)", lambda: nn.MaxPool2d(2), lambda: torch.nn.MaxPool2d(2)),
    Case("AvgPool2d(3, stride=1, padding=1)", lambda: nn.AvgPool2d(3, 1, 1),
         lambda: torch.nn.AvgPool2d(3, 1, 1)),
]


def twins(case: Case) -> tuple[nn.Module, torch.nn.Module]:
    """The minidl module and the torch one, holding the same weights."""
    ours, theirs = case.ours(), case.theirs()
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def run_once(case: Case, ours: nn.Module, theirs: torch.nn.Module, x, target):
    """One forward + backward on each side; returns both outputs and both sides' gradients.

    The backward pass starts from a mean-squared-error loss against ``target``, as in training.
    """
    ours.zero_grad()
    theirs.zero_grad()
    mine, ref = minidl.Tensor(x, requires_grad=True), x.clone().requires_grad_(True)
    if case.is_loss:
        z, zt = ours(mine, target), theirs(ref, target)
        z.backward()
        zt.backward()
    else:
        z, zt = ours(mine), theirs(ref)
        minidl.functional.mse_loss(z, target).backward()
        torch.nn.functional.mse_loss(zt, target).backward()
    grads = {"X": mine.grad}
    grads_t = {"X": ref.grad}
    for (name, p), (_, pt) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        key = "W" if name.endswith("weight") else "b"
        grads[key], grads_t[key] = p.grad, pt.grad
    return z.data, zt.detach(), grads, grads_t


def differences(case: Case, runs: int, seed: int) -> dict[str, tuple[list[float], float]]:
    """For Z and each gradient: the per-run mean |Δ|, and the largest |Δ| over all runs
    relative to the largest |value| torch computed."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    ours, theirs = twins(case)
    out: dict[str, tuple[list[float], float]] = {}
    largest: dict[str, float] = {}

    def record(key: str, a: torch.Tensor, b: torch.Tensor) -> None:
        means, worst = out.get(key, ([], 0.0))
        delta = (a - b).abs()
        means.append(float(delta.mean()))
        largest[key] = max(largest.get(key, 0.0), float(b.abs().max()))
        out[key] = (means, max(worst, float(delta.max())))

    for _ in range(runs):
        x = torch.randn(BATCH, generator=generator)
        with torch.no_grad():
            shape = BATCH if case.is_loss else theirs(x).shape
        target = torch.randn(shape, generator=generator)
        z, zt, grads, grads_t = run_once(case, ours, theirs, x, target)
        record("Z", z, zt)
        for key in grads:
            record(key, grads[key], grads_t[key])
    return {key: (means, worst / largest[key] if largest[key] else worst)
            for key, (means, worst) in out.items()}


def timings(case: Case, repeats: int, calls: int, seed: int) -> dict[str, list[float]]:
    """Seconds per call of forward, and of forward + backward, for minidl and torch."""
    torch.manual_seed(seed)
    ours, theirs = twins(case)
    x = torch.randn(BATCH)
    extra = torch.randn(BATCH) if case.is_loss else None
    mine, ref = minidl.Tensor(x, requires_grad=True), x.clone().requires_grad_(True)
    g, gt = None, None
    if not case.is_loss:
        gt = torch.randn(theirs(x).shape)
        g = gt

    def forward(model: Callable, inp: object) -> object:
        return model(inp, extra) if case.is_loss else model(inp)

    def timed(model: Callable, inp: object, upstream, backward: bool) -> Callable[[], float]:
        def run() -> float:
            start = time.perf_counter()
            for _ in range(calls):
                z = forward(model, inp)
                if backward:
                    z.backward(upstream)
            return (time.perf_counter() - start) / calls

        return run

    return interleaved(
        {
            "ours forward": timed(ours, mine, g, False),
            "torch forward": timed(theirs, ref, gt, False),
            "ours forward+backward": timed(ours, mine, g, True),
            "torch forward+backward": timed(theirs, ref, gt, True),
        },
        repeats=repeats,
    )


def scientific(values: list[float]) -> str:
    mean, sd = mean_sd(values)
    return "0" if mean == 0 and sd == 0 else f"{mean:.2e} ± {sd:.1e}"


def relative(value: float) -> str:
    return "0" if value == 0 else f"{value:.1e}"


def microseconds(values: list[float]) -> str:
    mean, sd = mean_sd(values)
    return f"{mean * 1e6:.1f} ± {sd * 1e6:.1f}"


def report(command: str, runs: int, repeats: int, calls: int, seed: int) -> str:
    """The three tables as markdown."""
    load = os.getloadavg()[0]
    forward_rows, backward_rows, time_rows = [], [], []
    for case in CASES:
        diffs = differences(case, runs, seed)
        forward_rows.append([case.name, scientific(diffs["Z"][0]), relative(diffs["Z"][1])])
        cells = [case.name]
        for key in ("X", "W", "b"):
            cells += [scientific(diffs[key][0]), relative(diffs[key][1])] if key in diffs else [
                "—", "—"]
        backward_rows.append(cells)
        times = timings(case, repeats, calls, seed)
        ratio = mean_sd(times["ours forward"])[0] / mean_sd(times["torch forward"])[0]
        ratio_fb = (mean_sd(times["ours forward+backward"])[0]
                    / mean_sd(times["torch forward+backward"])[0])
        time_rows.append([
            case.name, microseconds(times["ours forward"]), microseconds(times["torch forward"]),
            f"{ratio:.1f}×", microseconds(times["ours forward+backward"]),
            microseconds(times["torch forward+backward"]), f"{ratio_fb:.1f}×",
        ])
    return "\n\n".join([
        header("Seed 003, Tables I–III: minidl's image layers against torch", command).strip(),
        f"{runs} runs for the differences; {repeats} timing rounds of {calls} calls each; load "
        f"average {load:.1f} at the start (other work on the machine widens the spreads; timing "
        "the contenders round-robin keeps the ratios fair).",
        "Every layer runs on a (100, 3, 10, 10) float32 batch of N(0, 1) values, in minidl and "
        "in torch with the same weights. |Δ| is the mean over elements of |minidl − torch| in "
        "one run; the tables give its mean ± standard deviation over runs, as seed 003 does. "
        "*rel. max* is the largest single-element |Δ| seen in any run divided by the largest "
        "|value| torch computed (float32's resolution is 6·10⁻⁸). Each run is one full pass: "
        "forward, a mean-squared-error loss against a random target, backward. W and b are "
        "the layer's weight and bias.",
        "## Table I: forward differences",
        markdown_table(["Layer", r"mean \|ΔZ\|", "rel. max"], forward_rows),
        "## Table II: backward differences",
        markdown_table(
            ["Layer", r"mean \|ΔdL/dX\|", "rel. max", r"mean \|ΔdL/dW\|", "rel. max",
             r"mean \|ΔdL/db\|", "rel. max"],
            backward_rows,
        ),
        "## Table III: time per call (µs)",
        "Mean ± standard deviation over timing rounds; each round times a batch of calls. "
        "Forward calls record the graph (the parameters require gradients) on both sides; "
        "the backward pass starts from a random upstream gradient.",
        markdown_table(
            ["Layer", "minidl forward", "torch forward", "ratio",
             "minidl fwd+bwd", "torch fwd+bwd", "ratio"],
            time_rows,
        ),
        "## Reading the tables",
        "Seed 003 reported a Conv2d forward difference of (3.77 ± 1.08)·10⁻⁷ and a Conv2d "
        "that took 121.8 µs against torch's 48.4 µs. The differences here are float32 "
        "rounding: minidl adds the same products in a different order (im2col and one matrix "
        "product, where torch calls its own convolution kernels); layers without arithmetic "
        "(ReLU, nearest upsampling, max pooling) agree exactly. The seed's Sigmoid backward "
        "difference of 0.25 (the largest value σ' takes) points to a slip in its backward "
        "formula rather than rounding; here Sigmoid's dL/dX agrees to rounding. Nothing in "
        "minidl's backward pass calls torch.autograd: every gradient "
        "in Table II comes from the formulas in `minidl/ops/`. On time, the "
        "activations and the loss cost about what torch's do; the convolutions pay for copying "
        "every window into a column (im2col) before their one matrix product, where torch's own "
        "kernels work in place.",
    ]) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; write conv.md to docs/experiments (or --out; a temp folder if --quick)."""
    p = parser("python -m benchmarks.conv_tables", __doc__.splitlines()[0])
    p.set_defaults(runs=200)
    p.add_argument("--repeats", type=int, default=20, help="timing rounds for Table III (20)")
    p.add_argument("--calls", type=int, default=100, help="calls per timing round (100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threads", type=int, default=1,
        help="torch threads (1: these tensors are too small to gain from more)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.repeats, args.calls = 2, 2, 2
    torch.set_num_threads(args.threads)
    out = output_dir(args)
    command = "python -m benchmarks.conv_tables" + (" --quick" if args.quick else "")
    text = report(command, args.runs, args.repeats, args.calls, args.seed)
    (out / "conv.md").write_text(text, encoding="utf-8")
    print(text)
    print(f"wrote {out / 'conv.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
