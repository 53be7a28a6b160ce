"""Seed 004, Figure 3: validation accuracy against epochs, one curve per learning rate.

The seed's setting as far as its report gives it: 2-25-25-25-2 (three hidden layers of 25), ReLU,
Tanh output against ±1 targets ([1, -1] for class 0, [-1, 1] for class 1), inputs normalised,
MSE, plain SGD; data split into training, validation and test sets. What the report leaves open
we fix here: 1000 training, 500 validation and 500 test points, batch size 50, 100 epochs, Xavier
init, and the learning rates below. Each curve is the mean over ``--runs`` runs (band: ± sd).

    python -m benchmarks.seed004 [--runs 5] [--quick] [--out DIR]
"""

from __future__ import annotations

import sys

import torch
from tqdm.auto import tqdm

import minidl
from minidl.train import predict

from .common import markdown_table, mean_sd
from .experiments import accuracy, header, output_dir, parser, pyplot, train_minidl
from .workloads import MLPSpec

LEARNING_RATES = (0.0005, 0.001, 0.005, 0.01, 0.05, 0.1)
SPEC = MLPSpec(sizes=(2, 25, 25, 25, 2), hidden="relu", output="tanh", batch_size=50,
               epochs=100)
REPORT_EPOCHS = (1, 5, 10, 25, 50, 100)


def split(seed: int, n_train: int) -> tuple[torch.Tensor, ...]:
    """Training, validation and test sets (2:1:1), inputs standardised on the training set."""
    n = 2 * n_train
    x, y = minidl.data.disk(n, seed=seed)
    x_train, y_train, x_rest, y_rest = minidl.data.train_test_split(x, y, 0.5, seed=seed)
    half = len(x_rest) // 2
    scaler = minidl.data.Standardizer().fit(x_train)
    return (
        scaler.transform(x_train), y_train,
        scaler.transform(x_rest[:half]), y_rest[:half],
        scaler.transform(x_rest[half:]), y_rest[half:],
    )


def main(argv: list[str] | None = None) -> int:
    p = parser("python -m benchmarks.seed004", __doc__)
    p.set_defaults(runs=5)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    out = output_dir(args)
    spec, runs, lrs = SPEC, args.runs, LEARNING_RATES
    if args.quick:
        spec, runs, lrs = MLPSpec(**{**SPEC.__dict__, "epochs": 3, "n_train": 200}), 1, lrs[::3]
    curves: dict[float, list[list[float]]] = {}
    tests: dict[float, list[float]] = {}
    bar = tqdm(total=len(lrs) * runs, unit="run", desc="Figure 3")
    for lr in lrs:
        run_spec = MLPSpec(**{**spec.__dict__, "lr": lr})
        for run in range(runs):
            x, y, x_val, y_val, x_test, y_test = split(run, spec.n_train)
            targets = minidl.data.plus_minus_one(y, 2)
            val = (x_val, minidl.data.plus_minus_one(y_val, 2))
            model, _, history = train_minidl(run_spec, x, targets, seed=run, test=val,
                                             metrics=True)
            curves.setdefault(lr, []).append(history.test_accuracy)
            tests.setdefault(lr, []).append(accuracy(predict(model, x_test), y_test))
            bar.update(1)
    bar.close()

    epochs = [e for e in REPORT_EPOCHS if e <= spec.epochs]
    rows = []
    for lr in lrs:
        per_epoch = list(zip(*curves[lr], strict=True))
        cells = [f"{mean_sd(list(per_epoch[e - 1]))[0]:.3f}" for e in epochs]
        test_mean, test_sd = mean_sd(tests[lr])
        rows.append([f"{lr:g}", *cells, f"{test_mean:.3f} ± {test_sd:.3f}"])
    table = markdown_table(
        ["learning rate", *[f"epoch {e}" for e in epochs], "test accuracy (final)"], rows
    )
    command = "python -m benchmarks.seed004" + (" --quick" if args.quick else f" --runs {runs}")
    page = (
        header("Seed 004, Figure 3: validation accuracy by learning rate", command)
        + f"\n{runs} runs per learning rate, batch {spec.batch_size}, {spec.n_train} training / "
        f"{spec.n_train // 2} validation / {spec.n_train // 2} test points; mean validation "
        "accuracy at a few epochs, and the final test accuracy (mean ± sd).\n\n" + table
        + "\n\n![Figure 3](seed004.png)\n"
    )
    (out / "seed004.md").write_text(page)
    _plot(curves, out / "seed004.png")
    print(table)
    print(f"wrote {out / 'seed004.md'} and seed004.png", file=sys.stderr)
    return 0


def _plot(curves: dict[float, list[list[float]]], path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for lr, runs in curves.items():
        per_epoch = [mean_sd(list(v)) for v in zip(*runs, strict=True)]
        epochs = range(1, len(per_epoch) + 1)
        mean = [m for m, _ in per_epoch]
        line = ax.plot(epochs, mean, label=f"lr {lr:g}")[0]
        ax.fill_between(epochs, [m - s for m, s in per_epoch], [m + s for m, s in per_epoch],
                        color=line.get_color(), alpha=0.15)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_title("Seed 004 Figure 3: validation accuracy vs epochs (mean ± sd)")
    ax.set_ylim(0.4, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
