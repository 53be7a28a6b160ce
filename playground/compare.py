"""Many variants of one experiment trained at once as one stacked model; sweeps of two settings.

No Qt here. Compare (Training > Compare…) trains up to ``MAX_VARIANTS`` variants of the current
experiment, each with its own learning rate, L2 weight decay, seed and initialisation, as one
``minidl.nn.stack`` of their networks: one optimiser step moves them all, each exactly as it
would move trained alone (same data, same batch order from its own seed, its own
hyperparameters). Sweep (Training > Sweep…) trains a grid of two settings times a few seeds the
same way and reports each cell's mean ± sd of the final test accuracy or loss.

Both are driven by the app's worker process unchanged (``trainer.Trainer``): ``CompareSession``
and ``SweepSession`` answer the calls it makes of a ``Session`` (``step``, ``snapshot``,
``epoch``, ``steps``, ``history``, ``divergence``), and their snapshots are
``CompareSnapshot`` / ``SweepSnapshot``. A variant whose loss turns NaN or infinite is frozen at
the weights it had before the epochs that blew up (its learning rate set to 0, its optimiser
state cleared): the others train on, and its tile says so.

Dropout draws one mask for the whole stack, so a network with Dropout trains each variant with
masks of its own but not those it would draw alone; without Dropout every variant equals its
run alone (tests/test_compare.py, float32 within 1e-5).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from minidl import nn, optim
from minidl.train import History, fit, predict

from .experiment import Experiment, ExperimentError, SavedWeights, TrainSpec
from .session import Session, build_network

__all__ = [
    "INITS",
    "MAX_STACK",
    "MAX_VARIANTS",
    "METRICS",
    "metric_title",
    "PARAMETERS",
    "SWEEP_PARAMETERS",
    "TILE_GRID",
    "CompareError",
    "CompareRows",
    "CompareSession",
    "CompareSnapshot",
    "StackedRuns",
    "SweepPlan",
    "SweepResult",
    "SweepSession",
    "SweepSnapshot",
    "Variant",
    "cell_stats",
    "parse_values",
    "sweep_csv",
    "tile_image",
    "variant_model",
    "variants_varying",
]

MAX_VARIANTS = 16
"""Compare trains at most this many variants at once."""

MAX_STACK = 64
"""A sweep stacks at most this many runs into one model (more: one stack after another)."""

TILE_GRID = 48
"""Each variant's decision boundary is predicted on a TILE_GRID x TILE_GRID grid."""

GRID_INTERVAL = 0.1
"""Seconds between two computations of the tiles' grids while training (the curves go on at
the snapshot rate)."""

INITS = {"xavier": "Xavier", "pytorch": "PyTorch", "zeros": "Zeros"}
"""Initialisations a variant can start from: Xavier (the app's own), PyTorch's default, zeros."""

PARAMETERS = {
    "learning_rate": "Learning rate",
    "weight_decay": "L2",
    "seed": "Seed",
    "init": "Initialisation",
}
"""What a Compare variant sets for itself (the rest is the experiment's)."""

SWEEP_PARAMETERS = {
    "learning_rate": "Learning rate",
    "weight_decay": "L2",
    "batch_size": "Batch size",
    "init": "Initialisation",
}
"""The settings a sweep can put on its two axes (the seeds are averaged)."""

METRICS = {"test_accuracy": "Test accuracy", "test_loss": "Test loss"}


def metric_title(metric: str, regression: bool) -> str:
    """A metric's name for a title: "Test R²" where a regression's accuracy column holds R²."""
    return "Test R²" if regression and metric == "test_accuracy" else METRICS[metric]


class CompareError(ExperimentError):
    """A Compare or Sweep setting that cannot be used; the message names it and says why."""


# ---------------------------------------------------------------------------------------------
# Variants and their values
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One variant's own settings; everything else is the experiment's."""

    learning_rate: float
    weight_decay: float
    seed: int
    init: str = "xavier"
    batch_size: int | None = None
    """None: the experiment's batch size (sweeps may set their own)."""

    @classmethod
    def of(cls, spec: TrainSpec, **changes: Any) -> Variant:
        """The variant with ``spec``'s settings and ``changes`` on top."""
        base = cls(spec.learning_rate, spec.weight_decay, spec.seed, spec.init)
        return replace(base, **changes)

    def train_spec(self, base: TrainSpec) -> TrainSpec:
        """``base`` with this variant's learning rate, penalty rate, seed, initialisation
        (and batch size). The penalty is ``base``'s kind (L1 or L2); L2 when it has none, so
        a rate always means something (a rate of 0 is no penalty either way)."""
        return replace(
            base,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            regularization=_penalty(base),
            seed=self.seed,
            init=self.init,
            batch_size=self.batch_size if self.batch_size is not None else base.batch_size,
        )

    def problems(self, base: TrainSpec) -> list[str]:
        """Why this variant cannot train, as sentences (empty when it can)."""
        found = self.train_spec(base).problems()
        if self.init not in INITS:
            found.append(
                f"Unknown initialisation {self.init!r} (choose from {', '.join(INITS.values())})."
            )
        return found

    def value(self, parameter: str) -> Any:
        """The variant's value of ``parameter`` (a PARAMETERS or SWEEP_PARAMETERS key)."""
        return getattr(self, parameter)

    def label(self, parameters: Sequence[str]) -> str:
        """A short name for a tile or a legend: "lr 0.1", "seed 3, Zeros"."""
        return ", ".join(describe(p, self.value(p)) for p in parameters) or "as the experiment"


def describe(parameter: str, value: Any) -> str:
    """One setting as a tile shows it: "lr 0.1", "L2 0.001", "seed 3", "PyTorch", "batch 10"."""
    if parameter == "init":
        return INITS.get(value, str(value))
    names = {"learning_rate": "lr", "weight_decay": "L2", "seed": "seed", "batch_size": "batch"}
    return f"{names[parameter]} {value:g}"


def parse_value(parameter: str, text: str) -> Any:
    """One value of ``parameter`` read from text; CompareError saying what is wrong."""
    text = text.strip()
    title = {**PARAMETERS, **SWEEP_PARAMETERS}.get(parameter)
    if title is None:
        raise CompareError(f"Unknown setting {parameter!r}.")
    if parameter == "init":
        for key, name in INITS.items():
            if text.lower() in (key, name.lower()):
                return key
        raise CompareError(
            f"{title}: {text!r} is not an initialisation (choose from "
            f"{', '.join(INITS.values())})."
        )
    if parameter in ("seed", "batch_size"):
        try:
            return int(text)
        except ValueError:
            raise CompareError(f"{title}: {text!r} is not a whole number.") from None
    try:
        value = float(text)
    except ValueError:
        raise CompareError(f"{title}: {text!r} is not a number.") from None
    if not math.isfinite(value):
        raise CompareError(f"{title}: {text!r} is not a finite number.")
    return value


def parse_values(parameter: str, text: str, limit: int = MAX_VARIANTS) -> list[Any]:
    """Comma- or space-separated values of ``parameter``, at most ``limit`` of them, no two the
    same; CompareError naming the first bad one."""
    parts = [p for p in text.replace(",", " ").split() if p]
    title = {**PARAMETERS, **SWEEP_PARAMETERS}.get(parameter, parameter)
    if not parts:
        raise CompareError(f"{title}: give at least one value.")
    if len(parts) > limit:
        raise CompareError(f"{title}: {len(parts)} values, but at most {limit} fit.")
    values = []
    for part in parts:
        value = parse_value(parameter, part)
        if value in values:
            raise CompareError(f"{title}: {part} is given twice.")
        values.append(value)
    return values


def variants_varying(base: TrainSpec, parameter: str, values: Sequence[Any]) -> list[Variant]:
    """One variant per value of ``parameter``, the other settings the experiment's."""
    return [Variant.of(base, **{parameter: v}) for v in values]


def check_variants(variants: Sequence[Variant], base: TrainSpec) -> None:
    """CompareError naming the first variant that cannot train (and why), or too many/few."""
    if not variants:
        raise CompareError("Add at least one variant.")
    if len(variants) > MAX_VARIANTS:
        raise CompareError(
            f"{len(variants)} variants, but Compare trains at most {MAX_VARIANTS} at once."
        )
    for k, variant in enumerate(variants, start=1):
        problems = variant.problems(base)
        if problems:
            raise CompareError(f"Variant {k}: {problems[0]}")


# ---------------------------------------------------------------------------------------------
# Training M variants as one stack
# ---------------------------------------------------------------------------------------------


def variant_model(
    experiment: Experiment, variant: Variant
) -> tuple[nn.Sequential, torch.Generator]:
    """The variant's network with fresh weights, and the generator that then draws its batches.

    Xavier draws exactly as the app's Session does (the seed's generator, layer by layer), so
    an Xavier variant is the main window's run with that seed; PyTorch's default draws each
    Linear's weight and bias from U(±1/√fan_in) with the seed's generator; zeros draws nothing.
    """
    generator = torch.Generator().manual_seed(variant.seed)
    model = build_network(
        experiment.network, experiment.in_width, experiment.out_width, generator, variant.init
    )
    return model, generator


def _penalty(spec: TrainSpec) -> str:
    """The penalty kind variants use: the experiment's, or L2 where it has none."""
    return spec.regularization if spec.regularization != "none" else "l2"


def _stacked_optimizer(model: nn.Stacked, spec: TrainSpec, variants: Sequence[Variant]) -> Any:
    """The experiment's optimiser over the stack, with each variant's learning rate and
    penalty rate; the penalty on the weights only, as the Session's (``optim.regularized``)."""
    lr = [float(v.learning_rate) for v in variants]
    rates = [float(v.weight_decay) for v in variants]
    groups = optim.regularized(model, "none")  # [weights, biases]: names ending in "weight"
    groups[0][{"l1": "l1", "l2": "weight_decay"}[_penalty(spec)]] = rates
    if spec.optimizer == "adam":
        return optim.Adam(groups, lr=lr)
    momentum = spec.momentum if spec.optimizer == "sgd_momentum" else 0.0
    return optim.SGD(groups, lr=lr, momentum=momentum)


_COLUMNS = ("train_loss", "test_loss", "train_accuracy", "test_accuracy")


class StackedRuns:
    """M variants of one experiment as one stacked model: its optimiser, each variant's batch
    order (its own generator) and History, and which variants diverged.

    ``data`` is a Session of the experiment: its points, features and scaling are shared.
    """

    def __init__(self, data: Session, variants: Sequence[Variant], batch_size: int) -> None:
        exp = data.experiment
        built = [variant_model(exp, v) for v in variants]
        self.data = data
        self.variants = tuple(variants)
        self.batch_size = batch_size
        self.model = nn.stack([m for m, _ in built])
        self.generators = [g for _, g in built]
        self.optimizer = _stacked_optimizer(self.model, exp.train, variants)
        self.histories = [History() for _ in variants]
        self.diverged: list[tuple[int, float] | None] = [None] * len(variants)
        """Per variant: (epoch, loss) where it blew up, else None."""
        self.steps = 0

    @property
    def models(self) -> int:
        """How many variants the stack trains."""
        return len(self.variants)

    @property
    def epoch(self) -> int:
        """Epochs trained so far (the same for every variant)."""
        epochs = self.histories[0].epoch
        return epochs[-1] if epochs else 0

    def train(self, epochs: int) -> None:
        """Train every variant ``epochs`` more epochs; freeze the ones that blow up."""
        d = self.data
        before = len(self.histories[0].epoch)
        good = {k: v.clone() for k, v in self.model.state_dict().items()}
        fit(
            self.model,
            d._loss_fn,
            self.optimizer,
            (d._x_train, d._y_train),
            epochs=epochs,
            batch_size=self.batch_size,
            test=(d._x_test, d._y_test) if d.has_test_points else None,
            generator=self.generators,
            initial_epoch=self.epoch,
            history=self.histories,
            accuracy_fn=d.metric_fn,  # as the Session's
        )
        done = len(self.histories[0].epoch) - before
        self.steps += done * math.ceil(len(d._x_train) / self.batch_size)
        for k, h in enumerate(self.histories):
            first = before
            if self.diverged[k] is None:
                bad = [i for i in range(before, len(h.epoch)) if not math.isfinite(h.train_loss[i])]
                if not bad:
                    continue
                first = bad[0]
                self.diverged[k] = (h.epoch[first], h.train_loss[first])
                self._freeze(k, good)
            for name in _COLUMNS:  # a frozen variant's epochs are gaps in its curves
                values = getattr(h, name)
                values[first:] = [math.nan] * max(0, len(values) - first)

    def _freeze(self, k: int, good: dict[str, torch.Tensor]) -> None:
        """Put variant k back to ``good``'s weights and stop it: rate 0, optimiser state 0."""
        for name, p in self.model.named_parameters():
            p.data[k] = good[name][k]
            p.grad = None
        m = self.models
        for state in self.optimizer.state.values():
            for value in state.values():
                if isinstance(value, torch.Tensor) and value.dim() and value.shape[0] == m:
                    value[k] = 0
        for group in self.optimizer.param_groups:
            rates = list(group["lr"])
            rates[k] = 0.0
            group["lr"] = rates

    def last(self, k: int, name: str) -> float:
        """Variant k's latest value of a History column (NaN before the first epoch)."""
        values = getattr(self.histories[k], name)
        return values[-1] if values else math.nan

    def grids(self, size: int = TILE_GRID) -> np.ndarray:
        """What each variant's tile shows over the domain, as the main plot (see
        ``Session.probabilities``): P(class 1) or a regression's value, (M, size, size), or each
        class's probability, (M, K, size, size), for K > 2 classes; float32, ``[k, …, i2, i1]``."""
        inputs = self.data._grid_inputs_of(size)
        out = predict(self.model, inputs).float()  # (M, size², out)
        if self.data.is_regression:
            p = out[..., 0]
        elif out.shape[-1] > 2:
            p = torch.softmax(out, dim=-1).transpose(1, 2)  # (M, K, size²)
            return p.reshape(self.models, -1, size, size).numpy().copy()
        elif out.shape[-1] == 2:
            p = torch.softmax(out, dim=-1)[..., 1]
        else:
            p = out[..., 0].clamp(0.0, 1.0)
        return p.reshape(self.models, size, size).numpy().copy()

    def state_of(self, k: int) -> dict[str, torch.Tensor]:
        """Variant k's weights with an ordinary model's keys and shapes (copies)."""
        return self.model.model_state_dict(k)


# ---------------------------------------------------------------------------------------------
# Compare: what the worker trains and what it sends
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompareRows:
    """Per-epoch metrics of every variant from row ``start`` on: ``epoch`` (E,), the others
    (M, E); NaN where a variant had diverged."""

    start: int
    epoch: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    train_accuracy: np.ndarray
    test_accuracy: np.ndarray

    def __len__(self) -> int:
        return len(self.epoch)


@dataclass(frozen=True)
class CompareSnapshot:
    """What the Compare window shows of a run at one moment (copies only).

    ``grids`` is (M, TILE_GRID, TILE_GRID) P(class 1) (or value) per variant, (M, K, TILE_GRID,
    TILE_GRID) with K > 2 classes (see ``StackedRuns.grids``), or None when unchanged since
    the last one sent (they are computed at most every GRID_INTERVAL seconds).
    """

    session_id: int
    epoch: int
    steps: int
    history: CompareRows
    grids: np.ndarray | None
    diverged: tuple[tuple[int, float] | None, ...]
    test_loss: tuple[float, ...]
    test_accuracy: tuple[float, ...]
    steps_per_second: float = math.nan

    @property
    def grid(self) -> np.ndarray | None:
        """What the worker's controller looks at: never None, so it draws no grid itself."""
        return self.grids if self.grids is not None else np.zeros(0)


class _OverOneSession:
    """What Compare and Sweep sessions share: the Session of their experiment (its points, its
    grid) and what the worker asks every session it drives."""

    def _hold(self, experiment: Experiment) -> None:
        self.data = Session(experiment)
        self.experiment = self.data.experiment
        self.session_id = self.data.session_id

    @property
    def point_count(self) -> int:
        """What the worker reads to send a big session's points ahead (``Keep``): a comparison
        sends its points with each Play instead, so it reports none to send ahead."""
        return 0

    @property
    def data_token(self) -> Any:
        """The points of the session inside (see ``Session.data_token``): the worker holds them
        for hand-overs by reference."""
        return self.data.data_token


class CompareSession(_OverOneSession):
    """Variants of one experiment trained together; the worker drives it like a Session."""

    def __init__(self, experiment: Experiment, variants: Sequence[Variant]) -> None:
        check_variants(variants, experiment.train)
        self._hold(experiment)
        self.runs = StackedRuns(self.data, variants, experiment.train.batch_size)
        self.divergence: tuple[int, float] | None = None  # per variant instead: runs.diverged
        self.stop_reason: str | None = None
        self._last_grid = -math.inf

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_last_grid"] = -math.inf  # a copy sent elsewhere draws its grids at once
        return state

    @property
    def variants(self) -> tuple[Variant, ...]:
        """The variants, in tile order."""
        return self.runs.variants

    @property
    def history(self) -> History:
        """The first variant's History: its epochs are every variant's (what the worker counts)."""
        return self.runs.histories[0]

    @property
    def epoch(self) -> int:
        """Epochs trained so far."""
        return self.runs.epoch

    @property
    def steps(self) -> int:
        """Optimiser steps of the stack so far (each moves every variant)."""
        return self.runs.steps

    def play_blocker(self) -> str | None:
        """Why Play would stop at once (the epoch limit reached), else None."""
        limit = self.experiment.train.max_epochs
        if limit is not None and self.epoch >= limit:
            return f"Reached the epoch limit ({limit:,} epochs) of the experiment."
        return None

    def step(self, epochs: int = 1, callbacks: Sequence[Any] = ()) -> str | None:
        """Train every variant ``epochs`` more epochs; why training stopped, or None.

        It stops at the experiment's epoch limit and when every variant has diverged (the
        other stop conditions belong to the main window's run).
        """
        limit = self.experiment.train.max_epochs
        if limit is not None:
            epochs = max(0, min(epochs, limit - self.epoch))
        if epochs:
            self.runs.train(epochs)
        reason = None
        if all(d is not None for d in self.runs.diverged):
            reason = "every variant diverged"
        elif limit is not None and self.epoch >= limit:
            reason = f"reached the epoch limit ({limit:,} epochs)"
        self.stop_reason = reason
        return reason

    def apply_training(self, spec: TrainSpec) -> None:
        """Compare keeps the settings it started with (the main window's changes are its own)."""
        if spec != self.experiment.train:
            raise ValueError("Compare trains with the settings it started with")

    def rows(self, start: int = 0) -> CompareRows:
        """Every variant's metrics from row ``start`` on."""
        hs = self.runs.histories
        m = len(hs)

        def column(name: str) -> np.ndarray:
            values = [getattr(h, name)[start:] for h in hs]
            if any(len(v) != len(hs[0].epoch[start:]) for v in values):  # not recorded
                return np.full((m, len(hs[0].epoch[start:])), np.nan)
            return np.array(values, dtype=np.float64).reshape(m, -1)

        return CompareRows(
            start,
            np.array(hs[0].epoch[start:], dtype=np.int64),
            *(column(name) for name in _COLUMNS),
        )

    def snapshot(
        self,
        *,
        since: int = 0,
        grid: bool = True,
        weights: bool = False,
        steps_per_second: float = math.nan,
        tiles: bool = True,
    ) -> CompareSnapshot:
        """A copy of the run now; history rows from ``since``; the tiles' grids unless they
        were computed less than GRID_INTERVAL ago or ``tiles`` is False (``grid`` and
        ``weights`` are the worker's Session flags: the grids are always drawn here, in the
        worker)."""
        now = time.perf_counter()
        grids = None
        due = now - self._last_grid >= GRID_INTERVAL or since == 0 or self.stop_reason is not None
        if tiles and due:
            grids = self.runs.grids()
            self._last_grid = now
        runs = self.runs
        return CompareSnapshot(
            session_id=self.session_id,
            epoch=self.epoch,
            steps=self.steps,
            history=self.rows(since),
            grids=grids,
            diverged=tuple(runs.diverged),
            test_loss=tuple(runs.last(k, "test_loss") for k in range(runs.models)),
            test_accuracy=tuple(runs.last(k, "test_accuracy") for k in range(runs.models)),
            steps_per_second=steps_per_second,
        )

    def variant_experiment(self, k: int) -> Experiment:
        """The experiment with variant k's settings (what "Use this one" makes the main one)."""
        spec = self.runs.variants[k].train_spec(self.experiment.train)
        return self.experiment.replace(train=spec)

    def variant_weights(self, k: int) -> SavedWeights:
        """Variant k's trained weights as an experiment file carries them (exact float32)."""
        state = self.runs.state_of(k)
        return SavedWeights(self.epoch, {name: t.tolist() for name, t in state.items()})


def tile_image(grids: np.ndarray) -> np.ndarray:
    """Grids of values in [0, 1] (P(class 1), or a regression's value scaled to its range) as
    bytes 0..255, NaN as the middle: what a tile looks up in its 256-colour table."""
    clean = np.nan_to_num(grids, nan=0.5, posinf=1.0, neginf=0.0)
    return np.rint(np.clip(clean, 0.0, 1.0) * 255.0).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Sweep: a grid of two settings, seeds averaged
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepPlan:
    """Which two settings a sweep varies and to which values, the seeds, epochs and metric."""

    rows: str
    row_values: tuple[Any, ...]
    columns: str
    column_values: tuple[Any, ...]
    seeds: tuple[int, ...]
    epochs: int
    metric: str = "test_accuracy"

    def problems(self, experiment: Experiment) -> list[str]:
        """Why this sweep cannot run, as sentences (empty when it can)."""
        found = []
        for axis in (self.rows, self.columns):
            if axis not in SWEEP_PARAMETERS:
                found.append(f"A sweep cannot vary {axis!r}.")
        if self.rows == self.columns:
            found.append("Choose two different settings for the rows and the columns.")
        if not self.row_values or not self.column_values:
            found.append("Give at least one value for the rows and one for the columns.")
        if not self.seeds:
            found.append("Give at least one seed.")
        if not (isinstance(self.epochs, int) and 1 <= self.epochs <= 100_000):
            found.append(f"The epochs per run must be 1 to 100,000, not {self.epochs!r}.")
        if self.metric not in METRICS:
            found.append(f"Unknown metric {self.metric!r}.")
        if found:
            return found
        if not Session(experiment).has_test_points:
            found.append("The sweep reports test results: the data need test points.")
        for run in self.runs(experiment.train):
            problems = run[3].problems(experiment.train)
            if problems:
                setting = f"{describe(self.rows, run[3].value(self.rows))}, " + describe(
                    self.columns, run[3].value(self.columns)
                )
                found.append(f"Cell {setting}: {problems[0]}")
                break
        return found

    @property
    def size(self) -> int:
        """How many runs: cells times seeds."""
        return len(self.row_values) * len(self.column_values) * len(self.seeds)

    def runs(self, base: TrainSpec) -> list[tuple[int, int, int, Variant]]:
        """Every run as (row, column, seed index, Variant), row by row."""
        out = []
        for i, a in enumerate(self.row_values):
            for j, b in enumerate(self.column_values):
                for s, seed in enumerate(self.seeds):
                    changes = {self.rows: a, self.columns: b, "seed": seed}
                    out.append((i, j, s, Variant.of(base, **changes)))
        return out


@dataclass(frozen=True)
class SweepResult:
    """Each run's final metric, ``values[row, column, seed]`` (NaN for a diverged run)."""

    plan: SweepPlan
    values: np.ndarray
    diverged: np.ndarray

    def cell(self, i: int, j: int) -> tuple[float, float, int]:
        """(mean, sd, runs) of the cell's finite runs (see ``cell_stats``)."""
        return cell_stats(self.values[i, j])


def cell_stats(values: Sequence[float] | np.ndarray) -> tuple[float, float, int]:
    """(mean, sample standard deviation, count) of the finite values; sd NaN below 2 values,
    both NaN for none."""
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    finite = [float(v) for v in flat if math.isfinite(v)]
    if not finite:
        return math.nan, math.nan, 0
    sd = statistics.stdev(finite) if len(finite) > 1 else math.nan
    return statistics.fmean(finite), sd, len(finite)


def _number(value: float) -> str:
    return "nan" if not math.isfinite(value) else repr(float(value))


def sweep_csv(result: SweepResult) -> str:
    """The sweep as CSV: one row per cell with both settings, mean, sd, finite runs, diverged
    runs, then each seed's value."""
    plan = result.plan
    metric = plan.metric
    header = [
        plan.rows,
        plan.columns,
        f"{metric}_mean",
        f"{metric}_sd",
        "runs",
        "diverged",
        *(f"seed_{s}" for s in plan.seeds),
    ]
    lines = [",".join(header)]
    for i, a in enumerate(plan.row_values):
        for j, b in enumerate(plan.column_values):
            mean, sd, n = result.cell(i, j)
            row = [
                str(a),
                str(b),
                _number(mean),
                _number(sd),
                str(n),
                str(int(result.diverged[i, j].sum())),
                *(_number(v) for v in result.values[i, j]),
            ]
            lines.append(",".join(row))
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class SweepSnapshot:
    """A sweep's progress: epochs trained of all runs' epochs, and the runs finished so far."""

    session_id: int
    epoch: int
    steps: int
    done_epochs: int
    total_epochs: int
    runs_done: int
    result: SweepResult
    history: tuple = ()
    steps_per_second: float = math.nan
    grid: np.ndarray = field(default_factory=lambda: np.zeros(0))


class SweepSession(_OverOneSession):
    """A sweep the worker drives like a Session: its runs stacked as far as they can share a
    step (the same batch size, at most MAX_STACK at a time), one stack after another."""

    def __init__(self, experiment: Experiment, plan: SweepPlan) -> None:
        problems = plan.problems(experiment)
        if problems:
            raise CompareError(problems[0])
        self._hold(experiment)
        self.plan = plan
        runs = plan.runs(self.experiment.train)
        by_batch: dict[int, list[tuple[int, int, int, Variant]]] = {}
        for run in runs:
            batch = run[3].batch_size or self.experiment.train.batch_size
            by_batch.setdefault(batch, []).append(run)
        self._groups = [
            (batch, group[i : i + MAX_STACK])
            for batch, group in by_batch.items()
            for i in range(0, len(group), MAX_STACK)
        ]
        shape = (len(plan.row_values), len(plan.column_values), len(plan.seeds))
        self._values = np.full(shape, np.nan)
        self._diverged = np.zeros(shape, dtype=bool)
        self._current: StackedRuns | None = None
        self._group = 0
        self.runs_done = 0
        self.done_epochs = 0  # over all runs: a stack of M for one epoch counts M
        self.total_epochs = plan.size * plan.epochs
        self.steps = 0
        self.history = History()  # the worker counts its rows: a sweep sends none
        self.divergence: tuple[int, float] | None = None
        self.stop_reason: str | None = None

    @property
    def epoch(self) -> int:
        """Run-epochs trained so far (grows with every step, as the worker expects)."""
        return self.done_epochs

    @property
    def finished(self) -> bool:
        """Whether every run has been trained."""
        return self._group >= len(self._groups)

    def play_blocker(self) -> str | None:
        """Why Play would stop at once: the sweep is done."""
        return "The sweep is finished." if self.finished else None

    def step(self, epochs: int = 1, callbacks: Sequence[Any] = ()) -> str | None:
        """Train the current stack ``epochs`` more epochs (to the plan's epochs at most); when
        it is done, keep its results and start the next. Returns "sweep finished" at the end."""
        if self.finished:
            return "sweep finished"
        batch, group = self._groups[self._group]
        if self._current is None:
            self._current = StackedRuns(self.data, [run[3] for run in group], batch)
        runs = self._current
        todo = min(epochs, self.plan.epochs - runs.epoch)
        steps_before = runs.steps
        runs.train(todo)
        self.steps += runs.steps - steps_before
        self.done_epochs += todo * runs.models
        if runs.epoch >= self.plan.epochs:
            for k, (i, j, s, _) in enumerate(group):
                self._values[i, j, s] = runs.last(k, self.plan.metric)
                self._diverged[i, j, s] = runs.diverged[k] is not None
            self.runs_done += runs.models
            self._current = None
            self._group += 1
        self.stop_reason = "sweep finished" if self.finished else None
        return self.stop_reason

    def apply_training(self, spec: TrainSpec) -> None:
        """A sweep keeps the settings it started with."""
        if spec != self.experiment.train:
            raise ValueError("a sweep trains with the settings it started with")

    def result(self) -> SweepResult:
        """The runs finished so far (NaN for the others)."""
        return SweepResult(self.plan, self._values.copy(), self._diverged.copy())

    def snapshot(
        self,
        *,
        since: int = 0,
        grid: bool = True,
        weights: bool = False,
        steps_per_second: float = math.nan,
    ) -> SweepSnapshot:
        """The sweep's progress and results so far (the worker's Session flags do nothing)."""
        return SweepSnapshot(
            session_id=self.session_id,
            epoch=self.epoch,
            steps=self.steps,
            done_epochs=self.done_epochs,
            total_epochs=self.total_epochs,
            runs_done=self.runs_done,
            result=self.result(),
            steps_per_second=steps_per_second,
        )
