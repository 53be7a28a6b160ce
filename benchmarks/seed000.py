"""Seed 000, Table I: test accuracy against learning rate and batch size.

2-25-25-25-1, ReLU, Sigmoid output, MSE on 0/1 targets, plain SGD, Xavier init (as the seed),
100 epochs over 1000 disk points, accuracy on 1000 fresh points; each of the 16 settings is run
``--runs`` times (fresh data and weights each run) and reported as mean ± sd next to the seed's.

``--loss-reduction sum`` sums the MSE over the batch instead of averaging it (the seed's stated
maths), i.e. a step batch-size times larger; it writes seed000-sum.md and seed000-sum.png.

    python -m benchmarks.seed000 [--runs 10] [--quick] [--out DIR] [--loss-reduction {mean,sum}]
"""

from __future__ import annotations

import sys

import torch
from tqdm.auto import tqdm

from minidl.train import predict

from .common import markdown_table, mean_sd
from .experiments import accuracy, disk_split, header, output_dir, parser, pyplot, train_minidl
from .workloads import MLPSpec

LEARNING_RATES = (0.001, 0.005, 0.01, 0.1)
BATCH_SIZES = (50, 100, 200, 1000)

# the seed's Table I: (lr, batch) -> (mean accuracy, sd) over 10 runs of 100 epochs
SEED_TABLE = {
    (0.001, 50): (0.73, 0.14), (0.001, 100): (0.66, 0.14), (0.001, 200): (0.65, 0.10),
    (0.001, 1000): (0.57, 0.13), (0.005, 50): (0.92, 0.04), (0.005, 100): (0.86, 0.08),
    (0.005, 200): (0.80, 0.13), (0.005, 1000): (0.56, 0.09), (0.01, 50): (0.96, 0.01),
    (0.01, 100): (0.91, 0.05), (0.01, 200): (0.82, 0.13), (0.01, 1000): (0.72, 0.09),
    (0.1, 50): (0.96, 0.02), (0.1, 100): (0.95, 0.02), (0.1, 200): (0.91, 0.04),
    (0.1, 1000): (0.79, 0.12),
}


def main(argv: list[str] | None = None) -> int:
    p = parser("python -m benchmarks.seed000", __doc__)
    p.add_argument(
        "--loss-reduction", choices=("mean", "sum"), default="mean",
        help="average the MSE over the batch (mean, the seed's maths) or sum it (seed000-sum.md)",
    )
    args = p.parse_args(argv)
    reduction = args.loss_reduction
    name = "seed000" if reduction == "mean" else f"seed000-{reduction}"
    torch.set_num_threads(1)
    out = output_dir(args)
    runs, epochs, n = (2, 2, 200) if args.quick else (args.runs, 100, 1000)
    results: dict[tuple[float, int], list[float]] = {}
    bar = tqdm(total=len(LEARNING_RATES) * len(BATCH_SIZES) * runs, unit="run", desc="Table I")
    for lr in LEARNING_RATES:
        for batch in BATCH_SIZES:
            spec = MLPSpec(lr=lr, batch_size=batch, epochs=epochs, n_train=n)
            accs = []
            for run in range(runs):
                x, y, x_test, y_test = disk_split(run, n, n)
                model, _, _ = train_minidl(spec, x, y.float().unsqueeze(1), seed=run,
                                           reduction=reduction)
                accs.append(accuracy(predict(model, x_test), y_test))
                bar.update(1)
            results[(lr, batch)] = accs
    bar.close()

    rows = []
    for (lr, batch), accs in results.items():
        mean, sd = mean_sd(accs)
        seed_mean, seed_sd = SEED_TABLE[(lr, batch)]
        rows.append([
            f"{lr:g}", str(batch), f"{mean:.2f} ± {sd:.2f}", f"{seed_mean:.2f} ± {seed_sd:.2f}",
            f"{mean - seed_mean:+.2f}",
        ])
    table = markdown_table(
        ["learning rate", "batch size", "minidl accuracy", "seed 000 accuracy", "difference"],
        rows,
    )
    command = "python -m benchmarks.seed000" + (" --quick" if args.quick else f" --runs {runs}")
    title = "Seed 000, Table I: learning rate × batch size"
    loss_note = ""
    if reduction != "mean":
        command += f" --loss-reduction {reduction}"
        title += ", MSE summed over the batch"
        loss_note = (" The MSE is summed over the batch, not averaged as the seed states: each "
                     "step is batch-size times the mean loss's.")
    page = (
        header(title, command)
        + f"\n{runs} runs per setting, {epochs} epochs, {n} training and {n} test points; "
        f"mean ± sample sd of the test accuracy.{loss_note}\n\n" + table
        + f"\n\n![Table I]({name}.png)\n"
    )
    (out / f"{name}.md").write_text(page)
    _plot(results, out / f"{name}.png", reduction)
    print(table)
    print(f"wrote {out / (name + '.md')} and {name}.png", file=sys.stderr)
    return 0


def _plot(results: dict[tuple[float, int], list[float]], path, reduction: str = "mean") -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for i, lr in enumerate(LEARNING_RATES):
        offset = (i - 1.5) * 0.06
        xs = [b * (1 + offset) for b in BATCH_SIZES]
        stats = [mean_sd(results[(lr, b)]) for b in BATCH_SIZES]
        line = ax.errorbar(xs, [m for m, _ in stats], yerr=[s for _, s in stats], marker="o",
                           capsize=3, label=f"minidl, lr {lr:g}")
        seed = [SEED_TABLE[(lr, b)][0] for b in BATCH_SIZES]
        ax.plot(xs, seed, linestyle="--", marker="x", color=line[0].get_color(), alpha=0.6,
                label=f"seed 000, lr {lr:g}")
    ax.set_xscale("log")
    ax.set_xticks(BATCH_SIZES, [str(b) for b in BATCH_SIZES])
    ax.set_xlabel("batch size")
    ax.set_ylabel("test accuracy (mean ± sd)")
    if reduction == "mean":
        ax.set_title("Seed 000 Table I: minidl (solid) vs the seed (dashed)")
    else:
        ax.set_title("Seed 000 Table I: minidl, MSE summed over the batch (solid) vs the seed "
                     "(dashed)", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
