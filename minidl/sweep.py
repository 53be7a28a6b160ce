"""Hyperparameter sweeps: a grid of learning rate × batch size × L2 × seeds, trained stacked.

Every run of a grid that can share a step — the same batch size — trains in one stacked model
(``minidl.nn.stack``): one learning rate and weight decay per model (the optimisers' per-model
lists), each model on its own seed's data and batch order, so a model's run is the run it would
have trained alone (tests/test_sweep.py holds them equal). Seed 000's Table I, 160 runs of 100
epochs, is four stacks of 40 models.

    runs = run_grid(learning_rates=(0.01, 0.1), batch_sizes=(50, 200), seeds=range(5))
    cells = summarize(runs)                         # mean ± sd over the seeds, per setting
    print(markdown(cells))

From the command line (the defaults are seed 000's Table I)::

    python -m minidl.sweep [--lr 0.001 0.005 0.01 0.1] [--batch-size 50 100 200 1000]
        [--weight-decay 0] [--seeds 10] [--epochs 100] [--points 1000] [--out DIR]

prints the markdown table and writes sweep.md, sweep.csv and the heatmap sweep.png to --out.
The heatmap is drawn by matplotlib (the ``bench`` extra; imported only for the PNG), because
minidl never imports Qt and a readable figure needs text; the app draws its own with Qt.
"""

from __future__ import annotations

import argparse
import copy
import csv
import io
import itertools
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import data as datasets
from . import nn, optim
from .__main__ import _non_negative_float, _positive_int
from .nn.losses import _Loss
from .nn.module import Module
from .nn.stack import PerModelLoss
from .tensor import no_grad
from .train import Callback, History, TrainState, accuracy, fit_stacked, predict, seed_everything

__all__ = [
    "RunResult",
    "Cell",
    "Data",
    "AXES",
    "METRICS",
    "run_grid",
    "seed_network",
    "disk_data",
    "summarize",
    "heatmap_grid",
    "markdown",
    "csv_text",
    "write_heatmap",
    "main",
]

# (x_train, y_train, x_test, y_test), targets in the form the loss takes
Data = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]

# the hyperparameters a grid varies (RunResult's field names) and their labels
AXES = {
    "learning_rate": "learning rate",
    "batch_size": "batch size",
    "weight_decay": "L2 (weight decay)",
    "seed": "seed",
}
METRICS = {"test_accuracy": "test accuracy", "test_loss": "test loss"}
OPTIMIZERS = ("sgd", "sgd_momentum", "adam")


@dataclass
class RunResult:
    """One run of a grid: its settings, final metrics and per-epoch History."""

    learning_rate: float
    batch_size: int
    weight_decay: float
    seed: int
    test_loss: float
    test_accuracy: float
    train_loss: float  # the last epoch's (size-weighted mean of its batch losses)
    history: History = field(repr=False)
    stop_reason: str | None = None  # why it stopped before the last epoch (a diverged loss)
    state_dict: dict[str, torch.Tensor] | None = field(default=None, repr=False)

    @property
    def diverged(self) -> bool:
        """Whether the training loss became NaN or infinite."""
        return not math.isfinite(self.train_loss) or self.stop_reason is not None


@dataclass(frozen=True)
class Cell:
    """The runs of one setting (every seed), summarised: mean and sample sd of each metric."""

    learning_rate: float
    batch_size: int
    weight_decay: float
    runs: int
    diverged: int
    test_accuracy: tuple[float, float]  # (mean, sd)
    test_loss: tuple[float, float]

    def value(self, axis: str) -> float:
        """The cell's value of a hyperparameter axis ("learning_rate", "batch_size", …)."""
        return getattr(self, axis)


def seed_network(seed: int) -> nn.Sequential:
    """The seeds' 2-25-25-25-1 network (ReLU, Sigmoid output, Xavier init) from torch's RNG.

    ``run_grid`` calls ``seed_everything(seed)`` first, so the weights are seed ``seed``'s.
    """
    del seed  # the global RNG is seeded already
    sizes = (2, 25, 25, 25, 1)
    layers: list[Module] = []
    for a, b in zip(sizes[:-2], sizes[1:-1], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(sizes[-2], sizes[-1]), nn.Sigmoid())


def disk_data(seed: int, points: int = 1000) -> Data:
    """Seed ``seed``'s disk: ``points`` training points (seed 2·seed) and as many test points
    (seed 2·seed + 1), targets as float (N, 1) columns of 0/1 — as seed 000's experiments."""
    x, y = datasets.disk(points, seed=2 * seed)
    x_test, y_test = datasets.disk(points, seed=2 * seed + 1)
    return x, y.float().unsqueeze(1), x_test, y_test.float().unsqueeze(1)


def run_grid(
    learning_rates: Sequence[float] = (0.001, 0.005, 0.01, 0.1),
    batch_sizes: Sequence[int] = (50, 100, 200, 1000),
    weight_decays: Sequence[float] = (0.0,),
    seeds: Sequence[int] = range(10),
    *,
    epochs: int = 100,
    build_model: Callable[[int], Module] = seed_network,
    make_data: Callable[[int], Data] = disk_data,
    loss: _Loss | None = None,
    optimizer: str = "sgd",
    momentum: float = 0.9,
    metrics: bool = False,
    keep_weights: bool = False,
    max_stack: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[RunResult]:
    """Train every run of the grid, stacking the runs of each batch size; one RunResult each.

    Run (lr, batch, wd, seed) is: ``seed_everything(seed)``, ``model = build_model(seed)``,
    the optimiser (``optimizer``: "sgd", "sgd_momentum" with ``momentum``, or "adam") with lr
    and weight decay wd, then ``epochs`` epochs on ``make_data(seed)``'s training set in
    batches of ``batch``, the order drawn from the generator ``seed_everything`` returned — the
    same run as ``fit`` of that model alone. ``loss`` defaults to ``nn.MSELoss()``. The test
    loss and accuracy are the final model's; ``metrics`` also records them every epoch in each
    run's History; ``keep_weights`` keeps each run's final ``state_dict``. ``max_stack`` caps
    the models per stack (None: every run of a batch size in one stack).

    ``progress(done, total)`` is called after every epoch of every stack, counting run-epochs.
    When ``should_stop()`` turns true (checked every epoch), the stack in training is dropped
    and the runs finished so far are returned. Results come in grid order: batch size, then
    learning rate, weight decay, seed.
    """
    learning_rates, batch_sizes = list(learning_rates), list(batch_sizes)
    weight_decays, seeds = list(weight_decays), list(seeds)
    _check_grid(learning_rates, batch_sizes, weight_decays, seeds, epochs, optimizer)
    loss = loss if loss is not None else nn.MSELoss()
    settings = list(itertools.product(learning_rates, weight_decays, seeds))
    cap = max_stack or len(settings)
    groups = [(b, settings[i : i + cap]) for b in batch_sizes for i in range(0, len(settings), cap)]
    total = epochs * len(batch_sizes) * len(settings)
    counter = _Progress(progress, should_stop, total)
    data = {s: make_data(s) for s in seeds}
    _check_data(data)
    results: list[RunResult] = []
    for batch, group in groups:
        runs = _train_stack(
            batch, group, data, epochs, build_model, loss, optimizer, momentum, metrics,
            keep_weights, counter,
        )
        if runs is None:  # stopped
            break
        results += runs
    return results


def _check_grid(lrs, batches, wds, seeds, epochs, optimizer) -> None:
    for name, values in (("learning_rates", lrs), ("batch_sizes", batches),
                         ("weight_decays", wds), ("seeds", seeds)):
        if not values:
            raise ValueError(f"run_grid: {name} is empty; give at least one value")
        if len(set(values)) < len(values):
            raise ValueError(f"run_grid: {name} repeats a value: {values}")
    if any(isinstance(b, bool) or not isinstance(b, int) or b <= 0 for b in batches):
        raise ValueError(f"run_grid: batch sizes must be positive integers, got {batches}")
    if any(not math.isfinite(lr) or lr <= 0 for lr in lrs):
        raise ValueError(f"run_grid: learning rates must be finite and > 0, got {lrs}")
    if any(not math.isfinite(wd) or wd < 0 for wd in wds):
        raise ValueError(f"run_grid: weight decays must be finite and >= 0, got {wds}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"run_grid: epochs must be a positive integer, got {epochs!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"run_grid: optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")


def _check_data(data: dict[int, Data]) -> None:
    shapes = {s: tuple(tuple(t.shape) for t in d) for s, d in data.items()}
    first_seed, first = next(iter(shapes.items()))
    for s, shape in shapes.items():
        if shape != first:
            raise ValueError(
                f"run_grid: make_data({s}) gives shapes {shape} but make_data({first_seed}) "
                f"gives {first}; every seed's data must have the same shapes to be stacked"
            )


class _Progress(Callback):
    """Counts run-epochs for ``progress`` and stops a stack when ``should_stop()``."""

    def __init__(self, report, should_stop, total: int) -> None:
        self.report, self.should_stop, self.total = report, should_stop, total
        self.done, self.models = 0, 0
        self.stopped = False

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        self.done += self.models
        if self.report is not None:
            self.report(self.done, self.total)
        if self.should_stop is not None and self.should_stop():
            self.stopped = True
            state.stop("stopped on request")


def _train_stack(
    batch: int,
    group: list[tuple[float, float, int]],
    data: dict[int, Data],
    epochs: int,
    build_model: Callable[[int], Module],
    loss: _Loss,
    optimizer: str,
    momentum: float,
    metrics: bool,
    keep_weights: bool,
    counter: _Progress,
) -> list[RunResult] | None:
    """Train one stack (the runs ``group`` of one batch size); None if it was stopped."""
    models, generators = [], []
    built: dict[int, tuple[Module, torch.Generator]] = {}
    for _, _, seed in group:
        if seed not in built:  # every run of a seed starts from the same weights and order
            generator = seed_everything(seed)
            built[seed] = (build_model(seed), generator)
        model, generator = built[seed]
        models.append(copy.deepcopy(model))
        generators.append(_copy_generator(generator))
    stacked = nn.stack(models)
    lrs = [lr for lr, _, _ in group]
    wds = [wd for _, wd, _ in group]
    opt = _optimizer(stacked, optimizer, lrs, wds, momentum)
    x, y, x_test, y_test = (torch.stack([data[s][k] for _, _, s in group]) for k in range(4))
    counter.models = len(group)
    histories = fit_stacked(
        stacked, loss, opt, (x, y), epochs, batch, test=(x_test, y_test), callbacks=[counter],
        generator=generators, metrics=metrics,
    )
    if counter.stopped:
        return None
    test_loss, test_accuracy = _final_metrics(stacked, loss, x_test, y_test)
    weights = stacked.unstack() if keep_weights else None
    return [
        RunResult(
            learning_rate=lr, batch_size=batch, weight_decay=wd, seed=seed,
            test_loss=test_loss[k], test_accuracy=test_accuracy[k],
            train_loss=histories[k].train_loss[-1], history=histories[k],
            stop_reason=histories[k].stop_reason,
            state_dict=None if weights is None else weights[k].state_dict(),
        )
        for k, (lr, wd, seed) in enumerate(group)
    ]


def _copy_generator(generator: torch.Generator) -> torch.Generator:
    copy_ = torch.Generator()
    copy_.set_state(generator.get_state())
    return copy_


def _optimizer(model: Module, kind: str, lrs: list[float], wds: list[float], momentum: float):
    params = list(model.parameters())
    if kind == "adam":
        return optim.Adam(params, lr=lrs, weight_decay=wds)
    return optim.SGD(params, lr=lrs, weight_decay=wds,
                     momentum=momentum if kind == "sgd_momentum" else 0.0)


def _final_metrics(stacked, loss: _Loss, x_test, y_test) -> tuple[list[float], list[float]]:
    """Each stacked model's loss and accuracy on its own test set."""
    output = predict(stacked, x_test)
    with no_grad():
        losses = PerModelLoss(loss, stacked.models)(output, y_test).data.tolist()
    accuracies = [accuracy(output[k], y_test[k]) for k in range(stacked.models)]
    return losses, accuracies


# -- summaries -----------------------------------------------------------------------------------


def _mean_sd(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value; NaN if any value is NaN)."""
    if any(math.isnan(v) for v in values):
        return math.nan, math.nan
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(runs: Sequence[RunResult]) -> list[Cell]:
    """One Cell per setting (learning rate, batch size, weight decay), averaging the seeds."""
    by_setting: dict[tuple[float, int, float], list[RunResult]] = {}
    for r in runs:
        by_setting.setdefault((r.learning_rate, r.batch_size, r.weight_decay), []).append(r)
    return [
        Cell(
            learning_rate=lr, batch_size=batch, weight_decay=wd, runs=len(group),
            diverged=sum(r.diverged for r in group),
            test_accuracy=_mean_sd([r.test_accuracy for r in group]),
            test_loss=_mean_sd([r.test_loss for r in group]),
        )
        for (lr, batch, wd), group in sorted(by_setting.items())
    ]


def heatmap_grid(
    cells: Sequence[Cell], rows: str, cols: str, metric: str = "test_accuracy"
) -> tuple[list[float], list[float], torch.Tensor, torch.Tensor]:
    """(row values, column values, means, sds) of ``metric`` over two axes, as (R, C) tables.

    The cells must vary over ``rows`` and ``cols`` only (the seeds are averaged already); a
    missing combination is NaN. ValueError names a third axis that varies.
    """
    for axis in (rows, cols):
        if axis not in AXES or axis == "seed":
            raise ValueError(f"heatmap axis must be one of {list(AXES)[:3]}, got {axis!r}")
    if rows == cols:
        raise ValueError(f"heatmap rows and columns are both {rows!r}")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}, got {metric!r}")
    for axis in set(AXES) - {rows, cols, "seed"}:
        values = sorted({c.value(axis) for c in cells})
        if len(values) > 1:
            raise ValueError(
                f"the cells also vary in {AXES[axis]} ({values}); choose one value of it first"
            )
    row_values = sorted({c.value(rows) for c in cells})
    col_values = sorted({c.value(cols) for c in cells})
    means = torch.full((len(row_values), len(col_values)), math.nan, dtype=torch.float64)
    sds = means.clone()
    for c in cells:
        i, j = row_values.index(c.value(rows)), col_values.index(c.value(cols))
        means[i, j], sds[i, j] = getattr(c, metric)
    return row_values, col_values, means, sds


def _table_rows(cells: Sequence[Cell]) -> tuple[list[str], list[list[str]]]:
    header = ["learning rate", "batch size", "L2", "runs", "test accuracy", "test loss"]
    rows = []
    for c in cells:
        note = f" ({c.diverged} diverged)" if c.diverged else ""
        rows.append([
            f"{c.learning_rate:g}", str(c.batch_size), f"{c.weight_decay:g}", f"{c.runs}{note}",
            "{:.3f} ± {:.3f}".format(*c.test_accuracy), "{:.4f} ± {:.4f}".format(*c.test_loss),
        ])
    return header, rows


def markdown(cells: Sequence[Cell]) -> str:
    """A markdown table: one row per setting, mean ± sample sd of test accuracy and loss."""
    header, rows = _table_rows(cells)
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]

    def line(items: list[str]) -> str:
        return "| " + " | ".join(x.ljust(w) for x, w in zip(items, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def csv_text(cells: Sequence[Cell]) -> str:
    """The cells as CSV: settings, runs, diverged, then mean and sd of each metric."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*list(AXES)[:3], "runs", "diverged", "test_accuracy_mean",
                     "test_accuracy_sd", "test_loss_mean", "test_loss_sd"])
    for c in cells:
        writer.writerow([c.learning_rate, c.batch_size, c.weight_decay, c.runs, c.diverged,
                         *c.test_accuracy, *c.test_loss])
    return out.getvalue()


def write_heatmap(
    cells: Sequence[Cell], path: str | os.PathLike, rows: str = "learning_rate",
    cols: str = "batch_size", metric: str = "test_accuracy", title: str | None = None,
) -> None:
    """A heatmap PNG of ``metric`` over two axes, mean ± sd written in each cell.

    Needs matplotlib (``pip install 'minidl-playground[bench]'``); ImportError says so.
    Written to a temporary file beside ``path``, then renamed over it.
    """
    row_values, col_values, means, sds = heatmap_grid(cells, rows, cols, metric)
    try:
        import matplotlib

        matplotlib.use("Agg")  # file only: no display
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError(
            "the sweep's heatmap PNG needs matplotlib: pip install 'minidl-playground[bench]'"
        ) from e
    fig = Figure(figsize=(1.6 + 1.3 * len(col_values), 1.2 + 0.7 * len(row_values)), dpi=110)
    ax = fig.subplots()
    accuracy_like = metric == "test_accuracy"
    image = ax.imshow(means.numpy(), cmap="viridis", aspect="auto",
                      vmin=0.5 if accuracy_like else None, vmax=1.0 if accuracy_like else None)
    middle = float(torch.nanmean(means)) if means.isfinite().any() else 0.0
    for i in range(len(row_values)):
        for j in range(len(col_values)):
            m, s = means[i, j].item(), sds[i, j].item()
            text = "–" if math.isnan(m) else f"{m:.2f}\n± {s:.2f}"
            dark = not math.isnan(m) and m < (0.75 if accuracy_like else middle)
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")
    ax.set_xticks(range(len(col_values)), [f"{v:g}" for v in col_values])
    ax.set_yticks(range(len(row_values)), [f"{v:g}" for v in row_values])
    ax.set_xlabel(AXES[cols])
    ax.set_ylabel(AXES[rows])
    ax.set_title(title or f"{METRICS[metric]} (mean ± sd over seeds)", fontsize=10)
    fig.colorbar(image, ax=ax, label=METRICS[metric])
    fig.tight_layout()
    _write_atomically(Path(path), lambda f: fig.savefig(f, format="png"))


def _write_atomically(path: Path, write: Callable[[Any], None]) -> None:
    """Write through ``write(file)`` to a temporary file in path's folder, then rename it."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # mkstemp makes 0600; a saved file gets the usual mode
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


# -- command line --------------------------------------------------------------------------------


def _rate(text: str) -> float:
    value = _non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m minidl.sweep``."""
    p = argparse.ArgumentParser(
        prog="python -m minidl.sweep",
        description="Train a grid of the seed network on the disk (learning rate × batch size "
        "× L2 × seeds), stacked, and report mean ± sd of the test accuracy and loss. The "
        "defaults are seed 000's Table I.",
    )
    p.add_argument("--lr", type=_rate, nargs="+", default=[0.001, 0.005, 0.01, 0.1],
                   help="learning rates (default: 0.001 0.005 0.01 0.1)")
    p.add_argument("--batch-size", type=_positive_int, nargs="+", default=[50, 100, 200, 1000],
                   help="batch sizes (default: 50 100 200 1000)")
    p.add_argument("--weight-decay", type=_non_negative_float, nargs="+", default=[0.0],
                   help="L2 weight decays (default: 0)")
    p.add_argument("--seeds", type=_positive_int, default=10,
                   help="runs per setting, seeds 0..N-1 (default: 10)")
    p.add_argument("--epochs", type=_positive_int, default=100, help="epochs per run (100)")
    p.add_argument("--points", type=_positive_int, default=1000,
                   help="training points, and as many test points (1000)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="(default: sgd)")
    p.add_argument("--momentum", type=_non_negative_float, default=0.9,
                   help="for sgd_momentum (0.9)")
    p.add_argument("--rows", choices=list(AXES)[:3], default=None,
                   help="the heatmap's rows (default: the first axis with several values)")
    p.add_argument("--cols", choices=list(AXES)[:3], default=None,
                   help="the heatmap's columns (default: the next such axis)")
    p.add_argument("--metric", choices=list(METRICS), default="test_accuracy",
                   help="the heatmap's metric (default: test_accuracy)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for sweep.md, sweep.csv and sweep.png (default: print only)")
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="torch threads (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _heatmap_axes(args: argparse.Namespace) -> tuple[str, str] | None:
    """The heatmap's (rows, cols): the chosen ones, else the axes with several values."""
    varying = [a for a, values in (("learning_rate", args.lr), ("batch_size", args.batch_size),
                                   ("weight_decay", args.weight_decay)) if len(values) > 1]
    rows = args.rows or next((a for a in varying if a != args.cols), None)
    cols = args.cols or next((a for a in varying if a != rows), None)
    if rows is None or cols is None:
        return None
    return rows, cols


def main(argv: list[str] | None = None) -> int:
    """Run the sweep the command line asks for; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    axes = _heatmap_axes(args)
    if args.out is not None and axes is None:
        print("error: a heatmap needs two axes with several values (or --rows and --cols)",
              file=sys.stderr)
        return 2
    total_runs = len(args.lr) * len(args.batch_size) * len(args.weight_decay) * args.seeds
    bar = None
    if not args.quiet:
        from tqdm.auto import tqdm

        bar = tqdm(total=total_runs * args.epochs, unit="run-epoch", unit_scale=True,
                   desc=f"{total_runs} runs", file=sys.stderr)

    def report(done: int, total: int) -> None:
        bar.update(done - bar.n)

    start = time.perf_counter()
    runs = run_grid(
        args.lr, args.batch_size, args.weight_decay, range(args.seeds), epochs=args.epochs,
        make_data=lambda seed: disk_data(seed, args.points), optimizer=args.optimizer,
        momentum=args.momentum, progress=report if bar is not None else None,
    )
    seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    cells = summarize(runs)
    table = markdown(cells)
    print(table)
    print(f"{len(runs)} runs of {args.epochs} epochs in {seconds:.1f} s", file=sys.stderr)
    if args.out is not None:
        rows, cols = axes
        try:
            args.out.mkdir(parents=True, exist_ok=True)
            fixed = [c for c in cells if all(
                c.value(a) == cells[0].value(a) for a in set(AXES) - {rows, cols, "seed"})]
            write_heatmap(fixed, args.out / "sweep.png", rows, cols, args.metric)
            command = "python -m minidl.sweep " + " ".join(argv if argv is not None
                                                           else sys.argv[1:])
            page = (f"# Sweep\n\n`{command.strip()}`: {len(runs)} runs of {args.epochs} epochs "
                    f"in {seconds:.1f} s; mean ± sample sd over {args.seeds} seeds.\n\n"
                    f"{table}\n\n![heatmap](sweep.png)\n")
            _write_atomically(args.out / "sweep.md", lambda f: f.write(page.encode()))
            text = csv_text(cells)
            _write_atomically(args.out / "sweep.csv", lambda f: f.write(text.encode()))
        except (OSError, ImportError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(f"wrote {args.out / 'sweep.md'}, sweep.csv and sweep.png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
