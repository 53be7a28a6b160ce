"""Training loop: a Keras-like ``fit`` with callbacks, plus ``evaluate`` and ``predict``.

``fit`` runs mini-batch steps (forward, loss, zero_grad, backward, step) and, at the end of
each epoch, records the epoch's training loss (the size-weighted mean of its batch losses) and, when
``metrics`` is on, the accuracy on the training set and the loss and accuracy on the test set.
Callbacks see every epoch and can stop training; per-batch hooks cost nothing unless a callback
defines one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from .data import batches, labels_from_scores
from .fast import TrainStep
from .fast.step import eager_step
from .nn.losses import _Loss
from .nn.module import Module
from .nn.stack import PerModelLoss, Stacked
from .optim import Optimizer
from .tensor import Tensor, no_grad

__all__ = [
    "History",
    "TrainState",
    "Callback",
    "EarlyStopping",
    "StopAtLoss",
    "ProgressBar",
    "fit",
    "fit_stacked",
    "evaluate",
    "predict",
    "accuracy",
    "r2_score",
    "rmse",
    "confusion_matrix",
    "METRICS",
    "seed_everything",
]

Pair = tuple[torch.Tensor, torch.Tensor]


@dataclass
class History:
    """Per-epoch metrics of a ``fit`` run (lists of equal length, one entry per epoch)."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    stop_reason: str | None = None

    def last(self) -> dict[str, float]:
        """The latest epoch's metrics as a dict (empty before the first epoch)."""
        if not self.epoch:
            return {}
        out: dict[str, float] = {"epoch": self.epoch[-1], "train_loss": self.train_loss[-1]}
        for key in ("train_accuracy", "test_loss", "test_accuracy"):
            values = getattr(self, key)
            if values:
                out[key] = values[-1]
        return out


@dataclass
class TrainState:
    """What callbacks see and steer: the model, optimiser, history and a stop flag."""

    model: Module
    optimizer: Optimizer
    history: History
    epoch: int = 0
    step: int = 0
    stop_training: bool = False
    stop_reason: str | None = None

    def stop(self, reason: str) -> None:
        """Ask fit to end after the current step, saying why."""
        self.stop_training = True
        self.stop_reason = reason


class Callback:
    """Hooks into ``fit``; override what you need. Set ``state.stop(reason)`` to stop early."""

    def on_train_begin(self, state: TrainState) -> None:
        pass

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        pass

    def on_batch_end(self, state: TrainState, loss: Tensor) -> None:
        """Called after every optimiser step, but only if a subclass overrides it."""

    def on_train_end(self, state: TrainState) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor: str = "test_loss", patience: int = 10, min_delta: float = 0.0):
        if patience < 1:
            raise ValueError(f"EarlyStopping: patience must be >= 1, got {patience}")
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.best = math.inf
        self.wait = 0

    def on_train_begin(self, state: TrainState) -> None:
        self.best, self.wait = math.inf, 0

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        value = logs.get(self.monitor)
        if value is None:
            return
        if value < self.best - self.min_delta:
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            state.stop(
                f"{self.monitor} has not improved for {self.patience} epochs (best {self.best:.4g})"
            )


class StopAtLoss(Callback):
    """Stop as soon as ``monitor`` (default: test loss) reaches ``target`` or below."""

    def __init__(self, target: float, monitor: str = "test_loss"):
        self.target, self.monitor = target, monitor

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        value = logs.get(self.monitor)
        if value is not None and value <= self.target:
            state.stop(f"{self.monitor} reached {value:.4g} <= {self.target:g}")


class ProgressBar(Callback):
    """A tqdm progress bar over epochs showing the latest losses and accuracies."""

    def __init__(self, total: int, **tqdm_kwargs: Any):
        self.total, self.tqdm_kwargs = total, tqdm_kwargs
        self.bar: Any = None

    def on_train_begin(self, state: TrainState) -> None:
        from tqdm.auto import tqdm  # imported here: only runs that ask for a bar pay for it

        self.bar = tqdm(total=self.total, unit="epoch", **self.tqdm_kwargs)

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        self.bar.update(1)
        self.bar.set_postfix(
            {k: f"{v:.4f}" for k, v in logs.items() if k != "epoch"}, refresh=False
        )

    def on_train_end(self, state: TrainState) -> None:
        self.bar.close()


def accuracy(output: torch.Tensor, target: torch.Tensor) -> float:
    """Fraction of correct predictions, whatever the target encoding.

    Class indices (N,) are compared with the predicted class (argmax, or p > 0.5 for a single
    output); one-hot or ±1 targets (N, C) by argmax of both; single-column float targets by the
    side of the threshold (0.5 for 0/1 targets, 0 for ±1 targets).
    """
    output = output.data if isinstance(output, Tensor) else output
    target = target.data if isinstance(target, Tensor) else target
    if target.numel() == 0:
        return math.nan
    if not target.is_floating_point():
        predicted = labels_from_scores(output)
        return (predicted == target.reshape(predicted.shape)).double().mean().item()
    if target.dim() == 2 and target.shape[1] > 1:
        return (output.argmax(1) == target.argmax(1)).double().mean().item()
    threshold = 0.0 if bool((target < 0).any()) else 0.5
    predicted = output.reshape(-1) > threshold
    return (predicted == (target.reshape(-1) > threshold)).double().mean().item()


def _regression_pair(output: Any, target: Any, who: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Output and target as float64 (N, k) columns: a (N,) target goes with a (N, 1) output."""
    output = (output.data if isinstance(output, Tensor) else output).double()
    target = (target.data if isinstance(target, Tensor) else target).double()
    if output.dim() == 1:
        output = output.unsqueeze(1)
    if target.dim() == 1:
        target = target.unsqueeze(1)
    if output.shape != target.shape or output.dim() != 2:
        raise ValueError(
            f"{who}: the output has shape {tuple(output.shape)} but the target has shape "
            f"{tuple(target.shape)}; give (N,) or (N, k) values of one shape"
        )
    return output, target


def r2_score(output: Any, target: Any) -> float:
    """The coefficient of determination R² = 1 - Σ(y - ŷ)² / Σ(y - ȳ)² of a regression.

    1 is a perfect fit, 0 no better than predicting the mean target, below 0 worse. Several
    output columns: the mean of the columns' R² (scikit-learn's "uniform_average"). A constant
    target column scores 1 if predicted exactly, else 0 (scikit-learn's ``force_finite``).
    NaN for an empty set.
    """
    output, target = _regression_pair(output, target, "r2_score")
    if target.numel() == 0:
        return math.nan
    residual = ((target - output) ** 2).sum(0)
    total = ((target - target.mean(0)) ** 2).sum(0)
    exact = residual == 0
    scores = torch.where(total == 0, exact.double(), 1 - residual / total)
    return scores.mean().item()


def rmse(output: Any, target: Any) -> float:
    """The root mean squared error √(mean (ŷ - y)²) of a regression, in the target's unit."""
    output, target = _regression_pair(output, target, "rmse")
    if target.numel() == 0:
        return math.nan
    return ((output - target) ** 2).mean().sqrt().item()


def confusion_matrix(output: Any, target: Any, classes: int | None = None) -> torch.Tensor:
    """The K×K counts of a classification: entry [i, j] is how many points of class i the model
    predicted as class j (rows true, columns predicted, as scikit-learn).

    ``output`` is the model's scores, turned into classes as ``accuracy`` does (argmax of (N, K)
    scores; a single probability above 0.5), or (N,) predicted class indices; ``target`` the
    (N,) true classes. ``classes`` (K) defaults to the largest class seen plus one. Returns
    int64 (K, K); the diagonal holds the correct predictions.
    """
    output = output.data if isinstance(output, Tensor) else output
    target = target.data if isinstance(target, Tensor) else target
    predicted = output if not output.is_floating_point() else labels_from_scores(output)
    predicted, target = predicted.reshape(-1).long(), target.reshape(-1).long()
    if predicted.shape != target.shape:
        raise ValueError(
            f"confusion_matrix: {len(predicted)} predictions for {len(target)} targets"
        )
    if classes is None:
        classes = int(max(predicted.max(), target.max())) + 1 if len(target) else 0
    if len(target) and (min(predicted.min(), target.min()) < 0 or
                        max(predicted.max(), target.max()) >= classes):
        raise ValueError(f"confusion_matrix: classes must be in [0, {classes}) for K={classes}")
    counts = torch.bincount(target * classes + predicted, minlength=classes * classes)
    return counts.reshape(classes, classes)


METRICS: dict[str, Callable[[Any, Any], float]] = {
    "accuracy": accuracy,
    "r2": r2_score,
    "rmse": rmse,
}
"""Metric name -> ``f(output, target) -> float``; any of them can be ``fit``'s ``accuracy_fn``
(the History's accuracy columns then hold that metric, e.g. R² for a regression)."""


PREDICT_BATCH = 1 << 13
"""Rows ``predict`` runs the model on at once unless told: under 1 MB a layer of 25 units
(all of a million points at once: ~100 MB a layer), as fast as larger pieces (measured
42-59 ms for 500,000 rows at 4,096 to 65,536 rows a piece)."""


def predict(model: Module, x: Any, batch_size: int | None = PREDICT_BATCH) -> torch.Tensor:
    """The model's outputs for x as a torch tensor, in eval mode and without a graph; in
    batches of ``batch_size`` rows (None: all at once)."""
    data = x.data if isinstance(x, Tensor) else x
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            if batch_size is None or batch_size >= len(data):
                return _raw(model(data))
            parts = [_raw(model(data[i : i + batch_size])) for i in range(0, len(data), batch_size)]
            return torch.cat(parts)
    finally:
        model.train(was_training)


def evaluate(
    model: Module,
    loss_fn: Callable[[Any, Any], Tensor],
    data: Pair,
    accuracy_fn: Callable[[torch.Tensor, torch.Tensor], float] = accuracy,
) -> tuple[float, float]:
    """(loss, accuracy) of the model on a whole (x, y) set, in eval mode."""
    x, y = data
    output = predict(model, x)
    with no_grad():
        loss = loss_fn(output, y).item()
    return loss, accuracy_fn(output, y)


def _raw(t: Any) -> torch.Tensor:
    return t.data if isinstance(t, Tensor) else t


def fit(
    model: Module,
    loss_fn: Callable[[Any, Any], Tensor],
    optimizer: Optimizer,
    train: Pair,
    epochs: int = 1,
    batch_size: int = 32,
    test: Pair | None = None,
    callbacks: Iterable[Callback] = (),
    *,
    shuffle: bool = True,
    generator: torch.Generator | None = None,
    metrics: bool = True,
    accuracy_fn: Callable[[torch.Tensor, torch.Tensor], float] = accuracy,
    initial_epoch: int = 0,
    history: History | None = None,
    progress: bool = False,
    fast: bool = True,
) -> Any:
    """Train ``model`` for ``epochs`` epochs of mini-batch steps and return its History.

    ``train`` and ``test`` are (x, y) pairs of torch tensors, y in whatever form ``loss_fn``
    takes. ``generator`` (a seeded torch.Generator) makes the batch order reproducible.
    Training stops early when a callback calls ``state.stop(reason)`` or when the training loss
    becomes NaN or infinite (``history.stop_reason`` says which). ``initial_epoch`` and
    ``history`` let a caller continue a run epoch by epoch. Each step is
    ``minidl.fast.TrainStep``'s, which gives the eager step's results to the bit in less time;
    ``fast=False`` runs the eager step as written (``loss_fn(model(x), y)``, ``backward()``).

    A stacked model (``minidl.nn.stack``) trains its M models together and returns a list of M
    Histories; see ``fit_stacked``.
    """
    if isinstance(model, Stacked):
        return fit_stacked(
            model, loss_fn, optimizer, train, epochs, batch_size, test, callbacks,
            shuffle=shuffle, generator=generator, metrics=metrics, accuracy_fn=accuracy_fn,
            initial_epoch=initial_epoch, histories=history, progress=progress, fast=fast,
        )
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    x_train, y_train = (_raw(t) for t in train)
    if len(x_train) != len(y_train):
        raise ValueError(
            f"train inputs and targets differ in length: {len(x_train)} vs {len(y_train)}"
        )
    if len(x_train) == 0:
        raise ValueError("the training set is empty")
    history = history if history is not None else History()
    history.stop_reason = None
    state = TrainState(model, optimizer, history, epoch=initial_epoch)
    callbacks = list(callbacks)
    if progress:
        callbacks.append(ProgressBar(epochs))
    batch_hooks = [cb for cb in callbacks if type(cb).on_batch_end is not Callback.on_batch_end]
    for cb in callbacks:
        cb.on_train_begin(state)
    model.train()
    step = TrainStep(model, loss_fn, optimizer) if fast else _EagerStep(model, loss_fn, optimizer)
    for epoch in range(initial_epoch + 1, initial_epoch + epochs + 1):
        state.epoch = epoch
        losses: list[torch.Tensor] | None = None
        if fast and not batch_hooks:  # nothing between steps: the fast step takes the epoch
            batches(x_train, y_train, batch_size, shuffle=False)  # checks batch_size, no draw
            # the epoch's one (shuffled) copy, drawn as batches() draws it for these batches
            xs, ys = next(batches(x_train, y_train, len(x_train), shuffle=shuffle,
                                  generator=generator))
            losses = step.epoch(xs, ys, batch_size)
            if losses is not None:
                n = len(x_train)
                sizes = [min(batch_size, n - i) for i in range(0, n, batch_size)]
                state.step += len(losses)
            else:
                pairs = batches(xs, ys, batch_size, shuffle=False)
        else:
            pairs = batches(x_train, y_train, batch_size, shuffle=shuffle, generator=generator)
        if losses is None:
            losses, sizes = [], []
            for xb, yb in pairs:
                loss = step(xb, yb)
                losses.append(loss.data)
                sizes.append(xb.shape[0])  # not len(xb): torch's __len__ is Python, per step
                state.step += 1
                for cb in batch_hooks:
                    cb.on_batch_end(state, loss)
                if state.stop_training:
                    break
        # the weighted mean in Python floats (double precision): torch.tensor(sizes), stack and
        # dot here once an epoch cost the next steps ~2 % of the seed experiment (cold caches
        # after ops used nowhere else), where .item() of a CPU scalar is ~0.15 µs
        pairs = zip(losses, sizes, strict=True)
        train_loss = sum([value.item() * size for value, size in pairs]) / sum(sizes)
        logs = {"epoch": epoch, "train_loss": train_loss}
        history.epoch.append(epoch)
        history.train_loss.append(train_loss)
        if metrics:
            train_acc = accuracy_fn(predict(model, x_train), y_train)
            history.train_accuracy.append(train_acc)
            logs["train_accuracy"] = train_acc
            if test is not None:
                test_loss, test_acc = evaluate(model, loss_fn, test, accuracy_fn)
                history.test_loss.append(test_loss)
                history.test_accuracy.append(test_acc)
                logs["test_loss"], logs["test_accuracy"] = test_loss, test_acc
        if not math.isfinite(train_loss):
            state.stop(
                f"training diverged at epoch {epoch}: the loss became {train_loss} "
                "(try a lower learning rate or weight decay)"
            )
        for cb in callbacks:
            cb.on_epoch_end(state, logs)
        if state.stop_training:
            break
    history.stop_reason = state.stop_reason
    for cb in callbacks:
        cb.on_train_end(state)
    return history


def fit_stacked(
    model: Stacked,
    loss_fn: Callable[[Any, Any], Tensor],
    optimizer: Optimizer,
    train: Pair,
    epochs: int = 1,
    batch_size: int = 32,
    test: Pair | None = None,
    callbacks: Iterable[Callback] = (),
    *,
    shuffle: bool = True,
    generator: torch.Generator | list[torch.Generator] | None = None,
    metrics: bool = True,
    accuracy_fn: Callable[[torch.Tensor, torch.Tensor], float] = accuracy,
    initial_epoch: int = 0,
    histories: list[History] | None = None,
    progress: bool = False,
    fast: bool = True,
) -> list[History]:
    """Train the M models of a stack together; return one History per model.

    ``x`` is (N, in), shared by all models, or (M, N, in), one dataset per model; ``y`` likewise
    (N, ...) or (M, N, ...); ``test`` alike. ``loss_fn`` is a minidl loss module, taken per
    model (``PerModelLoss``), or a callable that returns the (M,) losses. ``generator``: one
    generator draws one batch order for every model; a list of M generators gives each model
    the order its own generator would draw alone, so model m's run equals ``fit`` of model m
    with ``generator[m]`` (the optimiser may give each model its own hyperparameters).
    Each step is ``minidl.fast.TrainStep``'s, the eager step's results to the bit in less time
    (``fast=False``: the eager step, ``losses = loss_fn(model(xb), yb)``,
    ``losses.sum().backward()``).
    A model whose loss becomes NaN or infinite gets its ``stop_reason`` and trains on harmlessly
    (its slices are its own); training stops when every model has diverged. Callbacks see the
    models' mean metrics in ``logs`` and the list of Histories as ``state.history``.
    """
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    m = model.models
    per_model = loss_fn
    if isinstance(loss_fn, _Loss):
        per_model = PerModelLoss(loss_fn, m)
    x_train, y_train = (_raw(t) for t in train)
    own = x_train.dim() == 3  # one dataset per model: (M, N, in) and (M, N, ...)
    n = x_train.shape[1] if own else x_train.shape[0]
    if own and (y_train.dim() < 2 or y_train.shape[:2] != x_train.shape[:2]):
        raise ValueError(
            f"per-model inputs {tuple(x_train.shape)} need per-model targets (M, N, ...), "
            f"got {tuple(y_train.shape)}"
        )
    if not own and len(y_train) != n:
        raise ValueError(f"train inputs and targets differ in length: {n} vs {len(y_train)}")
    if n == 0:
        raise ValueError("the training set is empty")
    generators = generator if isinstance(generator, list) else None
    if generators is not None and len(generators) != m:
        raise ValueError(f"give one generator per model: {len(generators)} for {m} models")
    histories = histories if histories is not None else [History() for _ in range(m)]
    if len(histories) != m:
        raise ValueError(f"give one History per model: {len(histories)} for {m} models")
    for h in histories:
        h.stop_reason = None
    state = TrainState(model, optimizer, histories, epoch=initial_epoch)  # type: ignore[arg-type]
    callbacks = list(callbacks)
    if progress:
        callbacks.append(ProgressBar(epochs))
    for cb in callbacks:
        cb.on_train_begin(state)
    model.train()
    step = TrainStep(model, per_model, optimizer) if fast else _EagerStep(model, per_model,
                                                                           optimizer)
    diverged = [False] * m
    for epoch in range(initial_epoch + 1, initial_epoch + epochs + 1):
        state.epoch = epoch
        xs, ys, axis = _stacked_epoch(x_train, y_train, shuffle, generator, generators)
        losses, sizes = [], []
        for i in range(0, n, batch_size):
            size = min(batch_size, n - i)
            xb, yb = xs.narrow(axis, i, size), ys.narrow(axis, i, size)
            loss = step(xb, yb)
            losses.append(loss.data)
            sizes.append(size)
            state.step += 1
        weights = torch.tensor(sizes, dtype=torch.float64)
        train_loss = (torch.stack(losses).double().T @ weights / weights.sum()).tolist()
        columns: dict[str, list[float]] = {"train_loss": train_loss}
        if metrics:
            columns.update(_stacked_metrics(model, per_model, (x_train, y_train), "train",
                                            accuracy_fn))
            if test is not None:
                columns.update(_stacked_metrics(model, per_model, test, "test", accuracy_fn))
        for k, h in enumerate(histories):
            h.epoch.append(epoch)
            for key, values in columns.items():
                getattr(h, key).append(values[k])
            if not diverged[k] and not math.isfinite(train_loss[k]):
                diverged[k] = True
                h.stop_reason = (
                    f"model {k} diverged at epoch {epoch}: the loss became {train_loss[k]}"
                )
        finite = [k for k in range(m) if not diverged[k]]
        logs: dict[str, float] = {"epoch": epoch}
        for key, values in columns.items():
            kept = [values[k] for k in finite]
            logs[key] = sum(kept) / len(kept) if kept else math.nan
        if not finite:
            state.stop(f"every model diverged by epoch {epoch}")
        for cb in callbacks:
            cb.on_epoch_end(state, logs)
        if state.stop_training:
            break
    for h in histories:
        h.stop_reason = h.stop_reason or state.stop_reason
    for cb in callbacks:
        cb.on_train_end(state)
    return histories


def _stacked_epoch(
    x: torch.Tensor,
    y: torch.Tensor,
    shuffle: bool,
    generator: Any,
    generators: list[torch.Generator] | None,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """One epoch's (shuffled) copy of a stack's data, and the axis its rows run along."""
    own = x.dim() == 3
    if not shuffle:
        return x, y, 1 if own else 0
    if generators is None:  # one order for every model: shared data stays shared
        perm = torch.randperm(x.shape[1] if own else x.shape[0], generator=generator)
        return (x[:, perm], y[:, perm], 1) if own else (x[perm], y[perm], 0)
    n = x.shape[1] if own else x.shape[0]
    perms = torch.stack([torch.randperm(n, generator=g) for g in generators])  # (M, N)
    if not own:  # each model its own order of the shared rows: (M, N, ...)
        return x[perms], y[perms], 1
    rows = torch.arange(len(generators)).unsqueeze(1)
    return x[rows, perms], y[rows, perms], 1


def _stacked_metrics(
    model: Stacked,
    loss_fn: Callable[[Any, Any], Tensor],
    data: Pair,
    prefix: str,
    accuracy_fn: Callable[[torch.Tensor, torch.Tensor], float],
) -> dict[str, list[float]]:
    """Each model's accuracy on (x, y), and its loss for the test set."""
    x, y = (_raw(t) for t in data)
    output = predict(model, x)  # (M, N, out)
    targets = [y[k] if x.dim() == 3 else y for k in range(model.models)]
    out = {f"{prefix}_accuracy": [accuracy_fn(output[k], t) for k, t in enumerate(targets)]}
    if prefix == "test":
        with no_grad():
            out["test_loss"] = loss_fn(output, y).data.tolist()
    return out


class _EagerStep:
    """The training step as a reader writes it: forward, loss, zero_grad, backward, step."""

    def __init__(self, model: Module, loss_fn: Callable[[Any, Any], Tensor], opt: Optimizer):
        self.model, self.loss_fn, self.optimizer = model, loss_fn, opt

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> Tensor:
        return eager_step(self.model, self.loss_fn, self.optimizer, x, y)


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global RNG (weights, dropout) and return a generator for batch order."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
