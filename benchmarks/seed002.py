"""Seed 002, Table II: minidl against PyTorch on the same network, data and settings.

2-25-25-25-2, ReLU, Tanh output, one-hot ±1 targets (``plus_minus_one``), inputs standardised
with statistics of the training set (``Standardizer``), MSE, SGD lr 0.05, batch 100, 250 epochs,
PyTorch's default init U(±1/√fan_in) on both sides (the seed's); 1000 training and 1000 test
points, fresh for every run but shared by the two engines. Time is the CPU time of training.

    python -m benchmarks.seed002 [--runs 10] [--quick] [--out DIR]
"""

from __future__ import annotations

import statistics
import sys

import torch
from tqdm.auto import tqdm

import minidl
from minidl.train import predict

from .common import markdown_table, mean_sd
from .experiments import (
    accuracy,
    disk_split,
    header,
    output_dir,
    parser,
    pyplot,
    torch_predict,
    train_minidl,
    train_torch,
)
from .workloads import MLPSpec

SPEC = MLPSpec(sizes=(2, 25, 25, 25, 2), hidden="relu", output="tanh", lr=0.05,
               batch_size=100, epochs=250, init="torch")

# the seed's Table II means (std): train %, test %, ms — minidl-like framework, then PyTorch
SEED_MEANS = {"framework": (97.00, 96.10, 236.06), "pytorch": (97.60, 96.20, 226.57)}
SEED_STDS = {"framework": (1.84, 2.10, 19.49), "pytorch": (1.98, 2.23, 21.68)}


def main(argv: list[str] | None = None) -> int:
    args = parser("python -m benchmarks.seed002", __doc__).parse_args(argv)
    torch.set_num_threads(1)
    out = output_dir(args)
    spec = SPEC
    runs = args.runs
    if args.quick:
        spec, runs = MLPSpec(**{**SPEC.__dict__, "epochs": 3, "n_train": 200}), 2
    rows, minidl_stats, torch_stats = [], [], []
    for run in tqdm(range(runs), unit="run", desc="Table II"):
        x, y, x_test, y_test = disk_split(run, spec.n_train, spec.n_train)
        scaler = minidl.data.Standardizer().fit(x)
        x, x_test = scaler.transform(x), scaler.transform(x_test)
        targets = minidl.data.plus_minus_one(y, 2)
        # alternate which engine goes first, so neither always gets the warmer caches
        order = ("minidl", "torch") if run % 2 == 0 else ("torch", "minidl")
        got = {}
        for engine in order:
            if engine == "minidl":
                model, seconds, _ = train_minidl(spec, x, targets, seed=run)
                scores = predict(model, x), predict(model, x_test)
            else:
                model, seconds = train_torch(spec, x, targets, seed=run)
                scores = torch_predict(model, x), torch_predict(model, x_test)
            got[engine] = (accuracy(scores[0], y), accuracy(scores[1], y_test), seconds * 1e3)
        minidl_stats.append(got["minidl"])
        torch_stats.append(got["torch"])
        rows.append([str(run + 1), *_cells(got["minidl"]), *_cells(got["torch"])])

    for label, pick in (("**mean**", 0), ("**sd**", 1)):
        rows.append([label] + [
            _fmt(mean_sd([s[k] for s in stats])[pick], k)
            for stats in (minidl_stats, torch_stats) for k in range(3)
        ])
    rows.append(["**seed 002 mean**"] + [
        _fmt(v, k) for engine in ("framework", "pytorch")
        for k, v in enumerate(SEED_MEANS[engine])
    ])
    rows.append(["**seed 002 sd**"] + [
        _fmt(v, k) for engine in ("framework", "pytorch")
        for k, v in enumerate(SEED_STDS[engine])
    ])
    table = markdown_table(
        ["run", "minidl train %", "minidl test %", "minidl ms", "PyTorch train %",
         "PyTorch test %", "PyTorch ms"],
        rows,
    )
    ratio = statistics.median(s[2] for s in minidl_stats) / statistics.median(
        s[2] for s in torch_stats)
    steps = spec.epochs * spec.steps_per_epoch
    command = "python -m benchmarks.seed002" + (" --quick" if args.quick else f" --runs {runs}")
    page = (
        header("Seed 002, Table II: minidl vs PyTorch", command)
        + f"\n{runs} runs; {steps} SGD steps per run; the seed's row is its framework (a "
        "module-by-module backward without autograd) next to its PyTorch.\n"
        f"Median training time minidl / PyTorch: **{ratio:.2f}**.\n\n" + table
        + "\n\n![Table II](seed002.png)\n"
    )
    (out / "seed002.md").write_text(page)
    _plot(minidl_stats, torch_stats, out / "seed002.png")
    print(table)
    print(f"wrote {out / 'seed002.md'} and seed002.png", file=sys.stderr)
    return 0


def _cells(stats: tuple[float, float, float]) -> list[str]:
    return [_fmt(v, k) for k, v in enumerate(stats)]


def _fmt(value: float, k: int) -> str:
    """Accuracies (k = 0, 1) are fractions shown in %, or already-% seed numbers; k = 2 is ms."""
    if k == 2:
        return f"{value:.0f}"
    return f"{value * 100:.2f}" if value <= 1 else f"{value:.2f}"


def _plot(minidl_stats, torch_stats, path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6), dpi=120)
    names = ["minidl", "PyTorch", "seed: framework", "seed: PyTorch"]
    test = [[s[1] * 100 for s in minidl_stats], [s[1] * 100 for s in torch_stats]]
    times = [[s[2] for s in minidl_stats], [s[2] for s in torch_stats]]
    axes[0].boxplot(test, tick_labels=names[:2])
    axes[0].scatter([3, 4], [SEED_MEANS["framework"][1], SEED_MEANS["pytorch"][1]], marker="x",
                    color="black", label="seed 002 means")
    axes[0].errorbar([3, 4], [SEED_MEANS["framework"][1], SEED_MEANS["pytorch"][1]],
                     yerr=[SEED_STDS["framework"][1], SEED_STDS["pytorch"][1]], fmt="none",
                     color="black", capsize=3)
    axes[0].set_xticks([1, 2, 3, 4], names, fontsize=7)
    axes[0].set_ylabel("test accuracy (%)")
    axes[1].boxplot(times, tick_labels=names[:2])
    axes[1].set_ylabel("training time (ms, CPU)")
    axes[1].set_ylim(bottom=0)
    fig.suptitle("Seed 002 Table II: minidl vs PyTorch, 2-25-25-25-2, 250 epochs")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
