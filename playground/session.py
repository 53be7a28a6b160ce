"""A training run in progress: the minidl model, data and optimiser built from an Experiment.

No Qt here: the worker thread drives a Session epoch by epoch, and tests drive it directly. The
session trains on the chosen input features, standardised with statistics of the training points
(when the experiment asks for it). Exported models take raw (x1, x2) points instead: the feature
map travels as ``nn.Features`` and the scaling is folded into the first Linear layer, so a model
with plain x1, x2 inputs loads into an equal ``torch.nn.Sequential``.

Your points (``DataSpec.added``) join the generated ones on the side of the split each one says;
removed generated points are dropped after the seeded split, so the rest keep their side. The
stop conditions are minidl.train's callbacks. When the loss turns NaN or infinite the session
rolls back to the last good epoch (weights and history) and says so in ``divergence``.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import itertools
import json
import math
import os
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

import minidl
from minidl import ModelFileError, nn, optim
from minidl import data as mdata
from minidl import io as mio
from minidl.nn.losses import LOSSES as LOSSES_BY_NAME
from minidl.train import (
    Callback,
    EarlyStopping,
    History,
    StopAtLoss,
    TrainState,
    accuracy,
    confusion_matrix,
    evaluate,
    fit,
    predict,
    r2_score,
)

from .experiment import (
    ACTIVATIONS,
    LOSSES,
    MAX_CLASSES,
    MULTICLASS_DATASETS,
    REGRESSION,
    DataSpec,
    Experiment,
    ExperimentError,
    LayerSpec,
    NetworkSpec,
    SavedWeights,
    TrainSpec,
)
from .insight import (
    LAYER_MODULES,
    Column,
    HiddenSpace,
    MaskedNetwork,
    columns,
    layer_outputs,
    principal_axes,
)
from .pointset import point_arrays

__all__ = [
    "GRID_SIZE",
    "MAX_SHOWN",
    "DataArrays",
    "HistoryRows",
    "ImportedModel",
    "Session",
    "Snapshot",
    "StopWhenSet",
    "build_network",
    "experiment_with_model",
    "nearest_point",
    "points_by_reference",
    "read_model",
]

GRID_SIZE = 100
"""The decision boundary is predicted on a GRID_SIZE x GRID_SIZE grid of points."""
MAX_SHOWN = 20_000
"""The plot draws at most this many points (a random subset of more); training uses all."""

_session_ids = itertools.count(1)


@dataclass(frozen=True)
class HistoryRows:
    """Per-epoch metrics from row ``start`` on (numpy copies, one entry per epoch)."""

    start: int
    epoch: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    train_accuracy: np.ndarray
    test_accuracy: np.ndarray
    grad_norms: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    """(epochs, Linear layers): ‖∇W‖₂ of each Linear's weight after the epoch's last step."""
    weight_norms: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    """(epochs, Linear layers): ‖W‖₂ (Frobenius) of each Linear's weight at the epoch's end."""
    train_rmse: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """A regression's root mean squared error per epoch (empty for a classification)."""
    test_rmse: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return len(self.epoch)


@dataclass(frozen=True)
class Snapshot:
    """What the window shows of a run at one moment; copies only, safe to hand across threads.

    ``grid`` is the probability of class 1 on the data domain, shape (GRID_SIZE, GRID_SIZE),
    rows running along x2 (row-major: ``grid[i2, i1]``); None when nobody asked for it.
    ``history`` holds the epochs since the previous snapshot the receiver has seen.
    ``weights`` (the state dict as numpy copies) when asked for: the app's worker sends them
    instead of the grid, and the window draws the grid from them
    (``Session.decision_grid(weights)``) on its own core, which would otherwise take the worker
    ~5 % of its training time. numpy, as torch tensors unpickle ~20x slower (0.25 ms each).
    ``grads`` come with the weights: each parameter's gradient of the last step (None before
    the first step).

    What the grid holds follows the task: P(class 1) for two classes, the predicted value for
    a regression, and for K > 2 classes each class's probability, shape (K, GRID_SIZE,
    GRID_SIZE). For a regression the accuracy fields hold R² (``r2_score``), and
    ``train_rmse`` / ``test_rmse`` the root mean squared error.
    """

    session_id: int
    epoch: int
    steps: int
    train_loss: float
    test_loss: float
    train_accuracy: float
    test_accuracy: float
    history: HistoryRows
    grid: np.ndarray | None
    steps_per_second: float = math.nan
    weights: dict[str, np.ndarray] | None = None
    grads: dict[str, np.ndarray] | None = None
    train_rmse: float = math.nan
    test_rmse: float = math.nan


@dataclass(frozen=True)
class DataArrays:
    """The points of a session as numpy arrays (raw coordinates), and the plotting domain.

    ``train_ids`` / ``test_ids`` say where each point comes from: ``i >= 0`` is generated point
    ``i``, ``-1 - j`` is your j-th added point (what ``DataSpec.without_point`` takes).
    ``classes`` is the number of classes, 0 for a regression (``y`` then holds float targets).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    domain: tuple[float, float, float, float]
    train_ids: np.ndarray | None = None
    test_ids: np.ndarray | None = None
    classes: int = 2

    def __len__(self) -> int:
        return len(self.y_train) + len(self.y_test)

    def shown(self, limit: int = MAX_SHOWN) -> DataArrays:
        """At most ``limit`` of the points, for the plot: all of them, or a random subset of
        both splits (seeded: the same points every time the same data is shown)."""
        n_train = len(self.y_train)
        if len(self) <= limit:
            return self
        chosen = np.sort(np.random.default_rng(0).choice(len(self), limit, replace=False))
        train, test = chosen[chosen < n_train], chosen[chosen >= n_train] - n_train
        ids = (self.train_ids, self.test_ids)
        return DataArrays(
            self.x_train[train],
            self.y_train[train],
            self.x_test[test],
            self.y_test[test],
            self.domain,
            ids[0][train] if ids[0] is not None else None,
            ids[1][test] if ids[1] is not None else None,
            self.classes,
        )

    @property
    def is_regression(self) -> bool:
        """Whether the targets are real numbers rather than classes."""
        return self.classes == 0

    def value_range(self) -> tuple[float, float]:
        """The colour levels of a regression's targets: symmetric about 0 when they have both
        signs (a diverging map centred on 0), else their own range; (-1, 1) without points."""
        values = np.concatenate([self.y_train, self.y_test]).astype(np.float64)
        values = values[np.isfinite(values)]
        if not len(values):
            return (-1.0, 1.0)
        low, high = float(values.min()), float(values.max())
        if low < 0 < high or low == high:
            top = max(abs(low), abs(high), 1e-6)
            return (-top, top)
        return (low, high)

    def rows(self) -> list[tuple[float, float, int | float, bool]]:
        """Every point as (x1, x2, label or target, is_test): training points first; a class
        as an int, a target as the float32 it is (which prints in its shortest form)."""
        out = []
        for xs, ys, test in ((self.x_train, self.y_train, False), (self.x_test, self.y_test, True)):
            out += [
                (x[0], x[1], c if self.is_regression else int(c), test)
                for x, c in zip(xs, ys, strict=True)
            ]
        return out


def nearest_point(
    arrays: DataArrays, x1: float, x2: float, max_distance: float = math.inf
) -> int | None:
    """The id of the point nearest (x1, x2), or None if none lies within ``max_distance``."""
    points = np.concatenate([arrays.x_train, arrays.x_test]).reshape(-1, 2)
    if arrays.train_ids is None or arrays.test_ids is None or not len(points):
        return None
    ids = np.concatenate([arrays.train_ids, arrays.test_ids])
    distance = np.hypot(points[:, 0] - x1, points[:, 1] - x2)
    best = int(np.argmin(distance))
    return int(ids[best]) if distance[best] <= max_distance else None


ACTIVATION_LAYERS: dict[str, type[nn.Module]] = {
    kind: LAYER_MODULES[kind] for kind in ACTIVATIONS if kind != "leaky_relu"
}
"""The playground's activation blocks without a setting, and the engine's layer of each."""
INIT_NAMES = {"xavier": "xavier", "pytorch": "torch", "zeros": "zeros"}
"""TrainSpec.init -> nn.Linear's ``init``."""


def build_network(
    network: NetworkSpec,
    in_width: int,
    out_width: int,
    generator: torch.Generator | None = None,
    init: str = "xavier",
) -> nn.Sequential:
    """The minidl model of a layer stack (without input features), fresh weights from generator
    drawn by ``init`` (a TrainSpec.init)."""
    layers: list[nn.Module] = []
    for shape in network.shapes(in_width, out_width):
        spec = shape.spec
        if spec.kind == "linear":
            layers.append(
                nn.Linear(
                    shape.in_width, shape.out_width, init=INIT_NAMES[init], generator=generator
                )
            )
        elif spec.kind in ACTIVATION_LAYERS:
            layers.append(ACTIVATION_LAYERS[spec.kind]())
        elif spec.kind == "leaky_relu":
            layers.append(nn.LeakyReLU(spec.slope if spec.slope is not None else 0.01))
        elif spec.kind == "dropout":
            layers.append(nn.Dropout(spec.p if spec.p is not None else 0.0))
        else:  # validation rejects these first; this guards direct callers
            raise ExperimentError(f"unknown layer type {spec.kind!r}")
    return nn.Sequential(*layers)


def _loss_function(loss: str) -> nn.Module:
    return LOSSES_BY_NAME[loss]()


def _optimizer(model: nn.Module, spec: TrainSpec) -> optim.Optimizer:
    """The optimiser of ``spec``, its penalty on the weights only (TF Playground's way:
    ``optim.regularized``; L1 as Playground steps it, L2 as torch's weight decay)."""
    groups = optim.regularized(model, spec.regularization, spec.weight_decay)
    if spec.optimizer == "adam":
        return optim.Adam(groups, lr=spec.learning_rate)
    momentum = spec.momentum if spec.optimizer == "sgd_momentum" else 0.0
    return optim.SGD(groups, lr=spec.learning_rate, momentum=momentum)


def _set_penalty(optimizer: optim.Optimizer, model: nn.Module, spec: TrainSpec) -> None:
    """Change the penalty of an optimiser made by ``_optimizer`` in place (its state stays):
    the weights' group gets ``spec``'s kind at its rate, the biases' group none."""
    weights = {id(p) for name, p in model.named_parameters() if name.endswith("weight")}
    for group in optimizer.param_groups:
        on_weights = all(id(p) in weights for p in group["params"])
        rate = spec.weight_decay if on_weights else 0.0
        group["l1"] = rate if spec.regularization == "l1" else 0.0
        group["weight_decay"] = rate if spec.regularization == "l2" else 0.0


REBUILD_ABOVE = 20_000
"""A Session with more points than this is pickled without its point tensors (~40 bytes a
point): the receiving process makes them again from the experiment (its PointSet, or the
seeded generator) and the sender's scaler, the same bits, so a hand-over of a million points
pickles ~18 MB instead of ~51 MB and neither side holds both copies at once."""
_FIT = object()
"""``_build_data``'s default: fit the input scaler on the training points."""


def _joined(parts: list[tuple[torch.Tensor, ...]]) -> tuple[torch.Tensor, ...]:
    """The parts' (x, y, ids) one after another; a single non-empty part as it is (a million
    points are not copied once more)."""
    filled = [part for part in parts if len(part[0])] or parts[:1]
    if len(filled) == 1:
        return filled[0]
    return tuple(torch.cat(c) for c in zip(*filled, strict=True))


class _SessionData:
    """A session's points and inputs, fixed for its life: the part of a Session a hand-over
    between the window and its worker can leave out when the other process has it."""

    NAMES = ("_raw", "_ids", "_x_train", "_x_test", "_y_train", "_y_test")
    __slots__ = ("__weakref__", "added", "fields")

    def __init__(self, fields: dict, added: object) -> None:
        self.fields, self.added = fields, added


_SESSION_DATA: weakref.WeakValueDictionary[int, _SessionData] = weakref.WeakValueDictionary()
"""Each live session's points in this process, by session id (gone with the last holder)."""
_BY_REFERENCE: contextvars.ContextVar[bool] = contextvars.ContextVar("by_reference", default=False)


@contextlib.contextmanager
def points_by_reference() -> Iterator[None]:
    """Within it, a pickled Session leaves its points out (see trainer.dumps): the receiving
    process restores them from its own copy of that session's, which must be alive there."""
    token = _BY_REFERENCE.set(True)
    try:
        yield
    finally:
        _BY_REFERENCE.reset(token)


class StopWhenSet(Callback):
    """Ends ``fit`` after the current batch once ``event`` is set (closing never waits long)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def on_batch_end(self, state: TrainState, loss: object) -> None:
        if self.event.is_set():
            state.stop("stopped on request")


class _Patience(EarlyStopping):
    """EarlyStopping over a whole run: the app trains one ``fit`` call per epoch, and
    EarlyStopping would forget its best loss at the start of each call."""

    def on_train_begin(self, state: TrainState) -> None:
        pass


class _StopAtMetric(Callback):
    """Stops once the test accuracy (a regression: the test R²) is at or above ``target``."""

    def __init__(self, target: float, name: str) -> None:
        self.target, self.name = target, name

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        value = logs.get("test_accuracy")
        if value is not None and value >= self.target:
            state.stop(f"test {self.name} reached {value:.4g} ≥ {self.target:g}")


class _KeepLastGood(Callback):
    """Remembers the weights and history length of the last epoch whose loss was finite."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        if math.isfinite(logs["train_loss"]):
            self.session._remember_good()


class _RecordNorms(Callback):
    """Keeps each Linear layer's gradient and weight norm at every epoch's end."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        self.session._record_norms()


class Session:
    """One experiment made real: data, model, optimiser and the history of its training.

    Not thread-safe: one thread at a time (the worker while it trains, the window otherwise).
    """

    def __init__(self, experiment: Experiment) -> None:
        self.experiment = experiment.validate()
        self.session_id = next(_session_ids)
        self._build_data(experiment.data)
        self._loss_fn = _loss_function(experiment.train.loss)
        self.columns: list[Column] = columns(
            self.experiment.network, self.experiment.data.features, self.experiment.out_width
        )
        """The neuron columns of the network view (playground.insight)."""
        self._disabled: set[tuple[int, int]] = set()
        self._masks: dict[int, torch.Tensor] = {}  # stack index -> 0/1 of its output's units
        self._build_model()

    _CACHES = ("_viewer", "_probe", "_wrappers", "_grid_cache", "_data")

    def __getstate__(self) -> dict:
        # the viewer models, wrappers and grid inputs are caches: they stay behind
        state = {k: v for k, v in self.__dict__.items() if k not in self._CACHES}
        if _BY_REFERENCE.get():  # the other process has the points: send all but them
            for name in _SessionData.NAMES:
                del state[name]
            data = self.experiment.data
            state["experiment"] = replace(self.experiment, data=replace(data, added=()))
        elif self.point_count > REBUILD_ABOVE:  # many points: the receiver makes them again
            for name in _SessionData.NAMES:
                del state[name]
            state["_rebuild"] = True
        return state

    def __setstate__(self, state: dict) -> None:
        if state.pop("_rebuild", False):  # the experiment's spec and scaler make the rest
            self.__dict__.update(state)
            self._build_data(self.experiment.data, scaler=self.scaler)
            return
        if "_raw" not in state:  # sent by reference: the points are this process's own
            data = _SESSION_DATA.get(state["session_id"])
            if data is None:
                # a session this process has forgotten (an answer to a dropped session on
                # its way): it stays without points, and its receiver drops it
                self.__dict__.update(state, **dict.fromkeys(_SessionData.NAMES))
                return
            state.update(data.fields)
            experiment = state["experiment"]
            state["experiment"] = replace(
                experiment, data=replace(experiment.data, added=data.added)
            )
        self.__dict__.update(state)
        self._remember_data()

    def _remember_data(self) -> None:
        """Register this session's points in the process, for hand-overs by reference."""
        fields = {name: self.__dict__[name] for name in _SessionData.NAMES}
        self._data = _SessionData(fields, self.experiment.data.added)
        _SESSION_DATA[self.session_id] = self._data

    @property
    def data_token(self) -> _SessionData:
        """This session's points: whoever holds this keeps them here for hand-overs."""
        return self._data

    # -- building -------------------------------------------------------------------------

    def _build_data(self, spec: DataSpec, *, scaler: object = _FIT) -> None:
        """Make the session's point tensors from ``spec`` (and its input scaler, fitted on the
        training points unless given: a copy rebuilt elsewhere keeps the sender's)."""
        regression = spec.task == REGRESSION
        target_type = torch.float32 if regression else torch.int64
        empty_x, empty_i = torch.zeros(0, 2), torch.zeros(0, dtype=torch.int64)
        empty_y = torch.zeros(0, dtype=target_type)
        train_parts, test_parts = [(empty_x, empty_y, empty_i)], [(empty_x, empty_y, empty_i)]
        if not spec.is_custom:
            classes = spec.classes if spec.dataset in MULTICLASS_DATASETS else None
            x, y = mdata.make_dataset(
                spec.dataset, spec.points, seed=spec.seed, noise=spec.noise, classes=classes
            )
            y = y.to(target_type)
            ids = torch.arange(len(x))
            # the engine's seeded split, applied to the indices: the same points as splitting
            # (x, y) itself, and each point keeps its index for removal
            id_train, _, id_test, _ = mdata.train_test_split(
                ids, ids, spec.test_fraction, seed=spec.seed
            )
            removed = torch.tensor(sorted(spec.removed), dtype=torch.int64)
            for part, chosen in ((train_parts, id_train), (test_parts, id_test)):
                kept = chosen[~torch.isin(chosen, removed)]
                part.append((x[kept], y[kept], kept))
        if spec.added:
            xy, labels, is_test = point_arrays(spec.added, regression=regression)
            ids = -1 - np.arange(len(labels))
            for part, side in ((train_parts, ~is_test), (test_parts, is_test)):
                part.append(
                    (
                        torch.from_numpy(xy[side].astype(np.float32)),
                        torch.from_numpy(labels[side]).to(target_type),
                        torch.from_numpy(ids[side]),
                    )
                )
        x_train, y_train, ids_train = _joined(train_parts)
        x_test, y_test, ids_test = _joined(test_parts)
        if not len(x_train):
            raise ExperimentError(
                "No training points are left: add points (click on the plot) or choose a "
                "generated dataset."
            )
        self._raw = (x_train, y_train, x_test, y_test)
        self._ids = (ids_train.numpy(), ids_test.numpy())
        self._features = nn.Features(list(spec.features))
        if scaler is _FIT:
            f_train = self._features(x_train).data
            scaler = mdata.Standardizer().fit(f_train) if spec.standardize else None
        self.scaler = scaler
        self._x_train = self._inputs(x_train)
        self._x_test = self._inputs(x_test)
        self._y_train = self._targets(y_train)
        self._y_test = self._targets(y_test)
        self._remember_data()
        x0, x1, y0, y1 = spec.plot_domain()
        self.domain = (x0, x1, y0, y1)
        self._grid_inputs = self._inputs(torch.from_numpy(self.grid_points(GRID_SIZE)))

    def grid_points(self, size: int) -> np.ndarray:
        """(size*size, 2) float32 raw (x1, x2) pixel centres over the domain, rows along x2:
        point ``i2 * size + i1``, the order of ``decision_grid`` (for size GRID_SIZE, its points).

        Pixel centres, so that ImageItem's rect = domain puts each value over its own cell.
        """
        if size < 1:
            raise ExperimentError(f"a grid needs at least 1 point a side, got {size}")
        x0, x1, y0, y1 = self.domain
        gx = x0 + (torch.arange(size, dtype=torch.float32) + 0.5) * (x1 - x0) / size
        gy = y0 + (torch.arange(size, dtype=torch.float32) + 0.5) * (y1 - y0) / size
        g2, g1 = torch.meshgrid(gy, gx, indexing="ij")
        return torch.stack([g1.reshape(-1), g2.reshape(-1)], dim=1).numpy()

    def _inputs(self, points: torch.Tensor) -> torch.Tensor:
        features = self._features(points).data
        return self.scaler.transform(features) if self.scaler is not None else features

    @property
    def is_regression(self) -> bool:
        """Whether the session fits real-valued targets (its accuracy is R²)."""
        return self.experiment.task == REGRESSION

    @property
    def metric_fn(self) -> Callable[[torch.Tensor, torch.Tensor], float]:
        """What the accuracy columns measure, (output, target) -> float: R² (``r2_score``)
        for a regression, else ``accuracy``."""
        return r2_score if self.is_regression else accuracy

    @property
    def metric_name(self) -> str:
        """What the accuracy columns hold: "R²" for a regression, else "accuracy"."""
        return "R²" if self.is_regression else "accuracy"

    @property
    def classes(self) -> int:
        """How many classes the data have; 0 for a regression."""
        return self.experiment.data.n_classes

    def _targets(self, labels: torch.Tensor) -> torch.Tensor:
        if self.experiment.train.loss == "cross_entropy" and not self.is_regression:
            return labels
        return labels.to(torch.float32)[:, None]

    def _build_model(self) -> None:
        spec = self.experiment.train
        self._generator = torch.Generator().manual_seed(spec.seed)
        torch.manual_seed(spec.seed)  # Dropout draws from torch's global generator
        self.model = build_network(
            self.experiment.network,
            self.experiment.in_width,
            self.experiment.out_width,
            self._generator,
            spec.init,
        )
        self.optimizer = _optimizer(self.model, spec)
        self.history = History()
        self.steps = 0
        self.stop_reason: str | None = None
        self.divergence: tuple[int, float] | None = None
        """(epoch, loss) of the last divergence the session rolled back from, else None."""
        self.divergence_layer: str | None = None
        """The Linear layer (a ``norm_labels`` entry) whose gradient blew up, else None."""
        self._linears = [m for m in self.model if isinstance(m, nn.Linear)]
        self._norms: list[torch.Tensor] = []  # per history row: (2, Linear layers) grad, weight
        self._epoch_offset = 0
        self._patience = _Patience(patience=spec.patience) if spec.patience else None
        self._good: tuple[dict[str, torch.Tensor], int, int] | None = None
        # Dropout draws from torch's global generator. The run keeps its own stream of it: set
        # before each step and kept after it, so a run trains alike whatever else used the
        # generator in between, and in another process (the app's worker) as here
        self._torch_rng = torch.get_rng_state()

    # -- training ---------------------------------------------------------------------------

    @property
    def epoch(self) -> int:
        """Epochs trained so far."""
        return self.history.epoch[-1] if self.history.epoch else self._epoch_offset

    @property
    def point_count(self) -> int:
        """Training and test points together."""
        return len(self._x_train) + len(self._x_test)

    @property
    def has_test_points(self) -> bool:
        """Whether there is a test set (a custom dataset may have none)."""
        return len(self._x_test) > 0

    @property
    def steps_per_epoch(self) -> int:
        """Optimiser steps in one epoch (mini-batches of the training set)."""
        return math.ceil(len(self._x_train) / self.experiment.train.batch_size)

    def _stop_conditions(self) -> list[Callback]:
        spec = self.experiment.train
        found: list[Callback] = []
        if spec.target_test_loss is not None:
            found.append(StopAtLoss(spec.target_test_loss, monitor="test_loss"))
        if spec.target_test_metric is not None:
            found.append(_StopAtMetric(spec.target_test_metric, self.metric_name))
        if self._patience is not None:
            found.append(self._patience)
        return found

    def _remember_good(self) -> None:
        self._good = (self._weights_copy(), len(self.history.epoch), self.steps)

    def step(self, epochs: int = 1, callbacks: Sequence[Callback] = ()) -> str | None:
        """Train ``epochs`` more epochs; returns why training stopped early, or None.

        It stops early when a stop condition is met (the epoch limit, the target test loss, no
        improvement for ``patience`` epochs) or when the loss diverges. After a divergence the
        weights and history go back to the last epoch with a finite loss, the optimiser starts
        afresh, and ``divergence`` holds (epoch, loss) of the epoch that blew up.
        """
        spec = self.experiment.train
        if spec.max_epochs is not None and self.epoch < spec.max_epochs:
            epochs = min(epochs, spec.max_epochs - self.epoch)
        before = len(self.history.epoch)
        self.divergence = None
        self.divergence_layer = None
        self._remember_good()
        torch.set_rng_state(self._torch_rng)
        try:
            history = self._fit(epochs, callbacks)
        finally:
            self._torch_rng = torch.get_rng_state()
        self.steps += (len(history.epoch) - before) * self.steps_per_epoch
        reason = history.stop_reason
        if history.train_loss and not math.isfinite(history.train_loss[-1]):
            reason = self._roll_back()
        elif reason is None and spec.max_epochs is not None and self.epoch >= spec.max_epochs:
            reason = f"reached the epoch limit ({spec.max_epochs:,} epochs)"
        self.stop_reason = reason
        return reason

    def _fit(self, epochs: int, callbacks: Sequence[Callback]) -> History:
        spec = self.experiment.train
        return fit(
            self._forward_model(self.model),
            self._loss_fn,
            self.optimizer,
            (self._x_train, self._y_train),
            epochs=epochs,
            batch_size=spec.batch_size,
            test=(self._x_test, self._y_test) if self.has_test_points else None,
            generator=self._generator,
            initial_epoch=self.epoch,
            history=self.history,
            accuracy_fn=self.metric_fn,
            callbacks=[
                _RecordNorms(self),
                *callbacks,
                *self._stop_conditions(),
                _KeepLastGood(self),
            ],
        )

    def _record_norms(self) -> None:
        weights = [m.weight.data for m in self._linears]
        grads = [
            m.weight.grad if m.weight.grad is not None else w * math.nan
            for m, w in zip(self._linears, weights, strict=True)
        ]
        norms = torch._foreach_norm(grads + weights) if weights else []
        self._norms.append(torch.stack(norms).reshape(2, -1) if weights else torch.zeros(2, 0))

    @property
    def norm_labels(self) -> list[str]:
        """One label per Linear layer, as HistoryRows' norm columns: "Linear 1 (2→8)"."""
        return [
            f"Linear {n} ({m.in_features}→{m.out_features})"
            for n, m in enumerate(self._linears, start=1)
        ]

    def _blown_up_layer(self, row: int, good_row: int) -> tuple[str, float] | None:
        """The Linear layer whose gradient norm at history row ``row`` is non-finite or the
        largest (ties among non-finite ones go to the largest at row ``good_row``)."""
        if not self._linears or row >= len(self._norms):
            return None
        grads = self._norms[row][0].double()
        bad = ~torch.isfinite(grads)
        if not bad.any():
            choice = int(torch.argmax(grads))
        else:
            good = self._norms[good_row][0].double() if 0 <= good_row < row else grads * 0
            good = torch.where(bad, torch.nan_to_num(good, nan=0.0, posinf=0.0), -1.0)
            choice = int(torch.argmax(good))
        return self.norm_labels[choice], float(grads[choice])

    def _roll_back(self) -> str:
        assert self._good is not None
        epoch, loss = self.history.epoch[-1], self.history.train_loss[-1]
        state, rows, steps = self._good
        self.model.load_state_dict(state)
        blown = self._blown_up_layer(len(self.history.epoch) - 1, rows - 1)
        h = self.history
        for values in (h.epoch, h.train_loss, h.train_accuracy, h.test_loss, h.test_accuracy):
            del values[rows:]
        del self._norms[rows:]
        for p in self.model.parameters():
            p.grad = None  # the blown-up step's: no gradient of the restored weights
        self.steps = steps
        self.optimizer = _optimizer(self.model, self.experiment.train)
        self.divergence = (epoch, loss)
        text = f"training diverged: the loss became {loss} at epoch {epoch}"
        if blown is not None:
            self.divergence_layer = blown[0]
            text += f"; the gradient of {blown[0]} blew up (norm {blown[1]:.3g})"
        return text

    def play_blocker(self) -> str | None:
        """Why Play would stop at once (a stop condition already met), else None.

        Also restarts the patience count, so Play after "no improvement" trains on for another
        ``patience`` epochs.
        """
        spec = self.experiment.train
        if spec.max_epochs is not None and self.epoch >= spec.max_epochs:
            return (
                f"Reached the epoch limit ({spec.max_epochs:,} epochs): raise it or turn it off "
                "under Stop conditions to train on."
            )
        if (
            spec.target_test_loss is not None
            and self.history.test_loss
            and self.history.test_loss[-1] <= spec.target_test_loss
        ):
            return (
                f"The test loss ({self.history.test_loss[-1]:.4g}) is already at the target "
                f"({spec.target_test_loss:g}): lower the target or turn it off to train on."
            )
        metric = self.history.test_accuracy[-1] if self.history.test_accuracy else math.nan
        if spec.target_test_metric is not None and metric >= spec.target_test_metric:
            return (
                f"The test {self.metric_name} ({metric:.4g}) is already at the target "
                f"({spec.target_test_metric:g}): raise the target or turn it off to train on."
            )
        if self._patience is not None:
            self._patience.wait = 0
        return None

    def apply_training(self, spec: TrainSpec) -> None:
        """Use new training settings from the next epoch on, keeping the weights.

        Learning rate, batch size, weight decay and momentum change in place; a new optimizer
        starts with fresh state. A different loss or seed needs a new Session (ValueError).
        """
        old = self.experiment.train
        if spec.loss != old.loss or spec.seed != old.seed:
            raise ValueError("a new loss or seed needs a new session")
        problems = spec.problems()
        if problems:
            raise ExperimentError(" ".join(problems))
        self.experiment = self.experiment.replace(train=spec)
        if spec.patience is None:
            self._patience = None
        elif self._patience is None:
            self._patience = _Patience(patience=spec.patience)
        else:
            self._patience.patience = spec.patience
        if spec.optimizer != old.optimizer:
            self.optimizer = _optimizer(self.model, spec)
            return
        for group in self.optimizer.param_groups:
            group["lr"] = spec.learning_rate
            if "momentum" in group and spec.optimizer == "sgd_momentum":
                group["momentum"] = spec.momentum
        _set_penalty(self.optimizer, self.model, spec)

    def reset(self, seed: int | None = None) -> None:
        """Start again with fresh weights (drawn with ``seed``, default the experiment's)."""
        if seed is not None:
            train = self.experiment.train
            self.experiment = self.experiment.replace(train=replace(train, seed=seed))
        self._build_model()

    # -- looking at it -------------------------------------------------------------------------

    def probabilities(self, inputs: torch.Tensor, model: nn.Module | None = None) -> torch.Tensor:
        """What the plot shows for rows of already-transformed inputs, by the session's model
        or the given one: P(class 1), shape (n,), for two classes; each class's probability,
        (n, K), for K > 2; the predicted value, (n,), for a regression. float32."""
        out = predict(self._forward_model(self.model if model is None else model), inputs).float()
        if self.is_regression:
            return out[:, 0]
        if out.shape[1] > 2:
            return torch.softmax(out, dim=1)
        if out.shape[1] == 2:
            return torch.softmax(out, dim=1)[:, 1]
        return out[:, 0].clamp(0.0, 1.0)  # a linear output under MSE can leave [0, 1]

    def predict_points(self, points: torch.Tensor | np.ndarray) -> np.ndarray:
        """``probabilities`` at raw (x1, x2) points: (n,), or (n, K) for K > 2 classes."""
        points = torch.as_tensor(np.asarray(points, dtype=np.float32))
        return self.probabilities(self._inputs(points)).numpy()

    def decision_grid(self, weights: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """``probabilities`` over the data domain, float32, ``grid[i2, i1]``: (GRID_SIZE,
        GRID_SIZE), or (K, GRID_SIZE, GRID_SIZE) for K > 2 classes (``grid[k, i2, i1]``).

        With ``weights`` (a Snapshot's), the grid of those weights, drawn by a copy of the
        model kept for this: the session's own weights stay as they are.
        """
        p = self.probabilities(self._grid_inputs, self._model_with(weights))
        if p.dim() == 2:
            return p.T.reshape(-1, GRID_SIZE, GRID_SIZE).numpy().copy()
        return p.numpy().reshape(GRID_SIZE, GRID_SIZE).copy()

    def confusion(self, split: str = "test") -> np.ndarray:
        """The K×K confusion matrix of the ``split`` ("test" or "train") set: rows are true
        classes, columns predicted ones; predictions as the accuracy counts them. A
        regression has none (ExperimentError)."""
        if self.is_regression:
            raise ExperimentError("A regression has no classes, so no confusion matrix.")
        classes = self.classes
        _, y_train, _, y_test = self._raw
        x, labels = (self._x_test, y_test) if split == "test" else (self._x_train, y_train)
        if not len(x):
            return np.zeros((classes, classes), dtype=np.int64)
        scores = predict(self._forward_model(self.model), x)
        return confusion_matrix(scores, labels, classes).numpy()

    def _rmse(self, r2: np.ndarray, targets: torch.Tensor) -> np.ndarray:
        """RMSE from R²: with SS_tot / n = Var(y), RMSE = sqrt((1 - R²) Var(y))."""
        if not self.is_regression or not len(targets):
            return np.zeros(0) if not self.is_regression else np.full(len(r2), math.nan)
        variance = float(targets.double().var(unbiased=False))
        return np.sqrt(np.clip(1.0 - r2, 0.0, None) * variance)

    def history_rows(self, start: int = 0) -> HistoryRows:
        """The per-epoch metrics from row ``start`` on, as numpy copies."""
        h = self.history

        def col(values: list[float]) -> np.ndarray:
            part = values[start:]
            return np.array(part if part else [], dtype=np.float64)

        norms = self._norms[start:]
        both = (
            torch.stack(norms).double().numpy() if norms else np.zeros((0, 2, len(self._linears)))
        )
        train_r2, test_r2 = col(h.train_accuracy), col(h.test_accuracy)
        _, y_train, _, y_test = self._raw
        return HistoryRows(
            start,
            np.array(h.epoch[start:], dtype=np.int64),
            col(h.train_loss),
            col(h.test_loss),
            train_r2,
            test_r2,
            both[:, 0].copy(),
            both[:, 1].copy(),
            self._rmse(train_r2, y_train),
            self._rmse(test_r2, y_test) if len(test_r2) else np.zeros(0),
        )

    def snapshot(
        self,
        *,
        since: int = 0,
        grid: bool = True,
        weights: bool = False,
        steps_per_second: float = math.nan,
    ) -> Snapshot:
        """A copy of the run's state now; history rows from ``since``; the grid and a copy of
        the weights only if asked."""
        last = self.history.last()
        _, y_train, _, y_test = self._raw
        rmse = [
            self._rmse(np.array([last.get(f"{part}_accuracy", math.nan)]), y)
            for part, y in (("train", y_train), ("test", y_test))
        ]
        return Snapshot(
            session_id=self.session_id,
            epoch=self.epoch,
            steps=self.steps,
            train_loss=last.get("train_loss", math.nan),
            test_loss=last.get("test_loss", math.nan),
            train_accuracy=last.get("train_accuracy", math.nan),
            test_accuracy=last.get("test_accuracy", math.nan),
            history=self.history_rows(since),
            grid=self.decision_grid() if grid else None,
            steps_per_second=steps_per_second,
            weights={k: v.numpy() for k, v in self._weights_copy().items()} if weights else None,
            grads=self._grads_copy() if weights else None,
            train_rmse=float(rmse[0][0]) if len(rmse[0]) else math.nan,
            test_rmse=float(rmse[1][0]) if len(rmse[1]) else math.nan,
        )

    def _grads_copy(self) -> dict[str, np.ndarray] | None:
        named = list(self.model.named_parameters())
        if all(p.grad is None for _, p in named):
            return None
        return {
            k: p.grad.numpy().copy() if p.grad is not None else np.zeros_like(p.data.numpy())
            for k, p in named
        }

    def _weights_copy(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def data_arrays(self) -> DataArrays:
        """The raw points and labels (numpy copies) and the plotting domain."""
        x_train, y_train, x_test, y_test = self._raw
        return DataArrays(
            x_train.numpy().copy(),
            y_train.numpy().copy(),
            x_test.numpy().copy(),
            y_test.numpy().copy(),
            self.domain,
            self._ids[0].copy(),
            self._ids[1].copy(),
            self.classes,
        )

    # -- inside the network (the network view's numbers; playground.insight) -------------------

    def _model_with(self, weights: dict[str, np.ndarray] | None) -> nn.Sequential:
        """The session's model, or with ``weights`` a copy kept for viewing loaded with them."""
        if weights is None:
            return self.model
        viewer = self.__dict__.get("_viewer")
        if viewer is None:
            viewer = self._viewer = copy.deepcopy(self.model)
        viewer.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in weights.items()})
        return viewer

    def _forward_model(self, model: nn.Sequential) -> nn.Module:
        """``model`` itself while every unit is on; else it wrapped to hold the off ones at 0."""
        if not self._masks:
            return model
        wrappers = self.__dict__.setdefault("_wrappers", {})
        wrapper = wrappers.get(id(model))
        if wrapper is None or wrapper.network is not model:
            wrapper = wrappers[id(model)] = MaskedNetwork(model, self._masks)
        return wrapper

    def _layer_values(self, inputs: torch.Tensor, weights: dict | None) -> list[torch.Tensor]:
        """[masked inputs, output of stack layer 0, 1, ...] in eval mode, without a graph."""
        model = self._model_with(weights)
        was_training = model.training
        model.eval()
        try:
            with minidl.no_grad():
                outputs = layer_outputs(model, inputs, self._masks)
        finally:
            model.train(was_training)
        return [o.data if isinstance(o, minidl.Tensor) else o for o in outputs]

    def _column_values(self, inputs: torch.Tensor, weights: dict | None) -> list[torch.Tensor]:
        """Each column's units, (n, units) per column, for rows of transformed inputs."""
        values = self._layer_values(inputs, weights)
        return [values[c.mask_key + 1] for c in self.columns]

    def _grid_inputs_of(self, size: int) -> torch.Tensor:
        cache = self.__dict__.setdefault("_grid_cache", {})
        found = cache.get(size)
        if found is None:
            if len(cache) >= 4:
                cache.clear()
            found = cache[size] = self._inputs(torch.from_numpy(self.grid_points(size)))
        return found

    @staticmethod
    def _as_maps(values: torch.Tensor, size: int) -> np.ndarray:
        return values.T.reshape(-1, size, size).float().numpy().copy()

    def neuron_maps(
        self, size: int, weights: dict[str, np.ndarray] | None = None
    ) -> list[np.ndarray]:
        """Each stack layer's output on ``grid_points(size)``: one (units, size, size) float32
        array per layer, ``maps[layer][unit, i2, i1]``; eval mode, switched-off units at 0."""
        values = self._layer_values(self._grid_inputs_of(size), weights)
        return [self._as_maps(v, size) for v in values[1:]]

    def column_maps(
        self, size: int, weights: dict[str, np.ndarray] | None = None
    ) -> list[np.ndarray]:
        """Each neuron column's units on ``grid_points(size)``: (units, size, size) float32 per
        column; column 0 is the input features as the network sees them (standardised)."""
        values = self._column_values(self._grid_inputs_of(size), weights)
        return [self._as_maps(v, size) for v in values]

    def _point_inputs(self, point: tuple[float, float]) -> torch.Tensor:
        try:
            xy = torch.tensor([[float(point[0]), float(point[1])]], dtype=torch.float32)
        except (TypeError, ValueError, IndexError):
            raise ExperimentError(f"{point!r} is not a point (x1, x2)") from None
        return self._inputs(xy)

    def activations_at(
        self, point: tuple[float, float], weights: dict[str, np.ndarray] | None = None
    ) -> list[np.ndarray]:
        """Each column's unit values (units,) at one raw (x1, x2) point."""
        values = self._column_values(self._point_inputs(point), weights)
        return [v[0].float().numpy().copy() for v in values]

    def point_gradients(
        self,
        point: tuple[float, float],
        label: int | float,
        weights: dict[str, np.ndarray] | None = None,
    ) -> dict[str, np.ndarray]:
        """dLoss/dparameter for one point of class (a regression: target) ``label`` under the
        session's loss (eval mode), per state-dict key; computed on a copy, so the model's own
        .grad stays."""
        if self.is_regression:
            if not math.isfinite(float(label)):
                raise ExperimentError(f"a point's target is a finite number, got {label!r}")
            target = torch.tensor([float(label)])
        elif label in range(self.classes):
            target = torch.tensor([int(label)])
        else:
            raise ExperimentError(f"a point's class is 0 to {self.classes - 1}, got {label!r}")
        probe = self.__dict__.get("_probe")
        if probe is None:
            probe = self._probe = copy.deepcopy(self.model)
        state = (
            {k: torch.from_numpy(np.asarray(v)) for k, v in weights.items()}
            if weights is not None
            else self.model.state_dict()
        )
        probe.load_state_dict(state)
        probe.eval()
        for p in probe.parameters():
            p.grad = None
        target = self._targets(target)
        loss = self._loss_fn(self._forward_model(probe)(self._point_inputs(point)), target)
        loss.backward()
        return {
            k: p.grad.numpy().copy() if p.grad is not None else np.zeros_like(p.data.numpy())
            for k, p in probe.named_parameters()
        }

    def set_parameter(self, key: str, index: tuple[int, ...], value: float) -> float:
        """Set one weight or bias of the model in place (e.g. ``("2.weight", (3, 0), 0.5)``);
        returns the old value, which set back undoes the edit. ExperimentError if it's wrong."""
        params = dict(self.model.named_parameters())
        if key not in params:
            raise ExperimentError(
                f"The model has no parameter {key!r}; it has {', '.join(params)}."
            )
        data = params[key].data
        shape = tuple(data.shape)
        try:
            where = tuple(int(i) for i in index)
        except (TypeError, ValueError):
            raise ExperimentError(f"{index!r} is not an index of {key}") from None
        if len(where) != len(shape) or not all(
            0 <= i < n for i, n in zip(where, shape, strict=True)
        ):
            raise ExperimentError(f"{key} has shape {shape}: there is no entry {tuple(index)}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ExperimentError(f"{value!r} is not a number") from None
        if not math.isfinite(number):
            raise ExperimentError(f"A weight must be a finite number, not {number}.")
        old = float(data[where])
        data[where] = number
        return old

    @property
    def disabled_units(self) -> frozenset[tuple[int, int]]:
        """The switched-off units as (column, unit) pairs."""
        return frozenset(self._disabled)

    def set_unit_enabled(self, column: int, unit: int, enabled: bool) -> None:
        """Switch a unit on or off; an off unit's output is 0 in every forward (training too)."""
        if not 0 <= column < len(self.columns):
            raise ExperimentError(f"There is no column {column} (0 to {len(self.columns) - 1}).")
        col = self.columns[column]
        if not 0 <= unit < col.units:
            raise ExperimentError(f"{col.title} has {col.units} units: there is no unit {unit}.")
        if enabled:
            self._disabled.discard((column, unit))
        else:
            self._disabled.add((column, unit))
        mask = torch.ones(col.units)
        for c, u in self._disabled:
            if c == column:
                mask[u] = 0.0
        if bool(mask.all()):
            self._masks.pop(col.mask_key, None)
        else:
            self._masks[col.mask_key] = mask

    def current_loss(self) -> tuple[float, float]:
        """(train loss, test loss) at the current weights; the test loss is NaN without a test
        set."""
        model = self._forward_model(self.model)
        train = evaluate(model, self._loss_fn, (self._x_train, self._y_train))[0]
        if not self.has_test_points:
            return train, math.nan
        return train, evaluate(model, self._loss_fn, (self._x_test, self._y_test))[0]

    def hidden_space(
        self,
        column: int,
        units: tuple[int, int] | None,
        lines: int = 11,
        weights: dict[str, np.ndarray] | None = None,
        *,
        samples: int = 41,
    ) -> HiddenSpace:
        """The data and the input grid in the space of two units of ``column`` (or, with
        ``units`` None, of the first two principal components of its training activations).

        ``lines`` lines of constant x1 and as many of constant x2 span the domain, each
        sampled at ``samples`` points.
        """
        if not 0 <= column < len(self.columns):
            raise ExperimentError(f"There is no column {column} (0 to {len(self.columns) - 1}).")
        if lines < 2 or samples < 2:
            raise ExperimentError("The hidden-space grid needs at least 2 lines of 2 points.")
        col = self.columns[column]
        x_train, y_train, x_test, y_test = self._raw
        x0, x1, y0, y1 = self.domain
        across = torch.linspace(0.0, 1.0, lines)
        along = torch.linspace(0.0, 1.0, samples)
        c1, t2 = torch.meshgrid(x0 + across * (x1 - x0), y0 + along * (y1 - y0), indexing="ij")
        c2, t1 = torch.meshgrid(y0 + across * (y1 - y0), x0 + along * (x1 - x0), indexing="ij")
        grid_raw = torch.cat(
            [torch.stack([c1, t2], -1).reshape(-1, 2), torch.stack([t1, c2], -1).reshape(-1, 2)]
        )
        inputs = torch.cat([self._x_train, self._x_test, self._inputs(grid_raw)])
        values = self._column_values(inputs, weights)[column].double().numpy()
        n_train, n_data = len(x_train), len(x_train) + len(x_test)
        if units is not None:
            a, b = (int(u) for u in units)
            if not (0 <= a < col.units and 0 <= b < col.units):
                raise ExperimentError(f"{col.title} has {col.units} units: no units {units}.")
            space = values[:, [a, b]]
            labels = (col.names[a], col.names[b])
        else:
            mean, axes = principal_axes(values[:n_train])
            space = (values - mean) @ axes.T
            labels = ("PC 1", "PC 2" if col.units >= 2 else "PC 2 (none: 1 unit)")
        return HiddenSpace(
            points=space[:n_data].copy(),
            labels=torch.cat([y_train, y_test]).numpy().copy(),
            is_test=np.arange(n_data) >= n_train,
            grid=space[n_data:].reshape(2, lines, samples, 2).copy(),
            axis_labels=labels,
        )

    def layer_matrices(
        self,
        column: int,
        weights: dict[str, np.ndarray] | None = None,
        grads: dict[str, np.ndarray] | None = None,
    ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """(W (out, in), b (out,), dW (out, in)) of a column's Linear, each None when absent.

        From ``weights`` / ``grads`` (a Snapshot's) when given, else the model's own weights
        and last gradient.
        """
        if not 0 <= column < len(self.columns):
            raise ExperimentError(f"There is no column {column} (0 to {len(self.columns) - 1}).")
        col = self.columns[column]
        if col.weight_key is None or col.bias_key is None:
            return None, None, None
        params = dict(self.model.named_parameters())
        if weights is not None:
            w, b = np.asarray(weights[col.weight_key]), np.asarray(weights[col.bias_key])
        else:
            w = params[col.weight_key].data.numpy().copy()
            b = params[col.bias_key].data.numpy().copy()
        if grads is not None:
            dw = np.asarray(grads[col.weight_key])
        elif weights is None and params[col.weight_key].grad is not None:
            dw = params[col.weight_key].grad.numpy().copy()
        else:
            dw = None
        return w, b, dw

    # -- weights in experiment files ------------------------------------------------------------

    def saved_weights(self) -> SavedWeights:
        """The trained weights as nested lists (each float32 in its shortest exact decimal)."""

        def lists(t: torch.Tensor) -> object:
            values = t.detach().to(torch.float32).numpy()
            if values.ndim == 1:
                return [float(str(v)) for v in values]
            return [lists(row) for row in t]

        state = self.model.state_dict()
        return SavedWeights(self.epoch, {k: lists(v) for k, v in state.items()})

    def load_weights(self, saved: SavedWeights) -> None:
        """Continue from weights saved in an experiment file (the epoch count goes on too)."""
        state = {k: torch.tensor(v, dtype=torch.float32) for k, v in saved.tensors.items()}
        self.model.load_state_dict(state, strict=True)
        self.history = History()
        self._norms = []
        self.steps = 0
        self._epoch_offset = saved.epoch
        self.optimizer = _optimizer(self.model, self.experiment.train)

    # -- model files --------------------------------------------------------------------------

    def _fresh_copy(self) -> nn.Sequential:
        copy = build_network(
            self.experiment.network, self.experiment.in_width, self.experiment.out_width
        )
        copy.load_state_dict({k: v.clone() for k, v in self.model.state_dict().items()})
        return copy

    def raw_state(self) -> dict[str, torch.Tensor]:
        """The network's weights for raw features: the input scaling folded into layer 0.

        With z = (f - mean) / std, the first layer computes W z + b = (W / std) f + (b - W mean
        / std), so W' = W / std (column by column) and b' = b - W (mean / std).
        """
        state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        if self.scaler is not None:
            mean, std = self.scaler.mean, self.scaler.std
            w = state["0.weight"]
            state["0.weight"] = w / std.to(w.dtype)
            if "0.bias" in state:
                state["0.bias"] = state["0.bias"] - w @ (mean / std).to(w.dtype)
        return state

    def load_raw_state(self, state: dict[str, torch.Tensor]) -> None:
        """Take weights meant for raw features (an exported model's), undoing the folding."""
        state = {k: torch.as_tensor(v).detach().clone().float() for k, v in state.items()}
        if self.scaler is not None and "0.weight" in state:
            mean, std = self.scaler.mean, self.scaler.std
            w = state["0.weight"]
            if w.shape[1] == len(std):
                state["0.weight"] = w * std
                if "0.bias" in state:
                    state["0.bias"] = state["0.bias"] + w @ mean
        self.model.load_state_dict(state, strict=True)
        self.history = History()
        self._norms = []
        self.steps = 0
        self.optimizer = _optimizer(self.model, self.experiment.train)

    def export_model(self) -> nn.Sequential:
        """A model of raw (x1, x2) points: Features (unless plain x1, x2), then the layers."""
        layers = self._fresh_copy()
        layers.load_state_dict(self.raw_state())
        return self._with_features(list(layers))

    def _with_features(self, modules: list[nn.Module]) -> nn.Sequential:
        if list(self.experiment.data.features) != ["x1", "x2"]:
            modules.insert(0, nn.Features(list(self.experiment.data.features)))
        return nn.Sequential(*modules)

    def save_model(self, path: str | os.PathLike) -> None:
        """Write the model of raw (x1, x2) points in the format ``path``'s suffix names.

        ``.onnx``: an ONNX graph; ``.py``: PyTorch code that runs on its own; anything else:
        minidl's ``.safetensors`` (``export_model()``, the scaling folded into layer 0). ONNX
        and PyTorch code keep the features and the standardisation as steps of their own and
        end a cross-entropy model with its softmax. Atomic; raises ModelFileError or
        minidl.ExportError.
        """
        exp = self.experiment
        metadata = {
            "inputs": "raw (x1, x2) points",
            "playground.features": json.dumps(list(exp.data.features)),
            "playground.loss": exp.train.loss,
            "playground.dataset": exp.data.dataset,
        }
        exporter = {".onnx": minidl.onnx.export, ".py": minidl.pytorch.export}.get(
            Path(path).suffix.lower()
        )
        if exporter is None:
            mio.save(self.export_model(), path, metadata=metadata)
            return
        exporter(
            self._with_features(list(self._fresh_copy())),
            path,
            standardize=self.scaler,
            softmax=exp.train.loss == "cross_entropy",
            metadata=metadata,
        )


# ---------------------------------------------------------------------------------------------
# Reading a model file back into a stack
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportedModel:
    """A model file turned into what the builder needs: stack, features, loss, raw weights."""

    network: NetworkSpec
    features: tuple[str, ...]
    loss: str
    state: dict[str, torch.Tensor]


def read_model(path: str | os.PathLike, current_loss: str = "mse") -> ImportedModel:
    """Read a minidl model file as a playground stack; raises ModelFileError naming the problem."""
    model = mio.load(path)
    metadata = mio.read_metadata(path)
    if not isinstance(model, nn.Sequential):
        raise ModelFileError(path, "the playground reads only nn.Sequential models")
    modules = list(model)
    features: tuple[str, ...] = ("x1", "x2")
    if modules and isinstance(modules[0], nn.Features):
        features = tuple(modules.pop(0).features)
    simple = {layer: kind for kind, layer in ACTIVATION_LAYERS.items()}
    layers: list[LayerSpec] = []
    width = len(features)
    for i, module in enumerate(modules, start=1):
        kind = type(module)
        if kind is nn.Linear:
            if module.bias is None:
                raise ModelFileError(
                    path,
                    f"layer {i} is a Linear without bias, which the "
                    "playground's builder cannot make",
                )
            if module.in_features != width:
                raise ModelFileError(
                    path, f"layer {i} expects {module.in_features} inputs but gets {width}"
                )
            layers.append(LayerSpec("linear", units=module.out_features))
            width = module.out_features
        elif kind is nn.LeakyReLU:
            layers.append(LayerSpec("leaky_relu", slope=module.negative_slope))
        elif kind is nn.Dropout:
            layers.append(LayerSpec("dropout", p=module.p))
        elif kind in simple:
            layers.append(LayerSpec(simple[kind]))
        else:
            raise ModelFileError(
                path,
                f"layer {i} is a {kind.__name__}, which the playground's builder has no block for",
            )
    network = NetworkSpec(tuple(layers))
    out = network.output_index()
    if out is None:
        raise ModelFileError(path, "the model has no Linear layer")
    out_width = layers[out].units
    if not (out_width is not None and 1 <= out_width <= MAX_CLASSES):
        raise ModelFileError(
            path,
            f"the model has {out_width} outputs; the playground trains models with 1 output "
            f"(a probability or a value) or a score for each of 2 to {MAX_CLASSES} classes",
        )
    loss = metadata.get("playground.loss", current_loss)
    if loss not in LOSSES:
        loss = current_loss
    if out_width >= 2:
        loss = "cross_entropy"
    elif loss == "cross_entropy":
        loss = "mse"
    problems = network.problems(loss)
    if problems:
        raise ModelFileError(path, " ".join(problems))
    state = nn.Sequential(*modules).state_dict()
    return ImportedModel(network, features, loss, {k: v.clone() for k, v in state.items()})


def experiment_with_model(experiment: Experiment, imported: ImportedModel) -> Experiment:
    """The experiment with an imported model's stack, input features and loss (and, for a
    model of K class scores, K classes where the data can have them)."""
    data = replace(experiment.data, features=tuple(imported.features))
    out = imported.network.output_index()
    scores = imported.network.layers[out].units if out is not None else None
    takes_classes = data.is_custom or data.dataset in MULTICLASS_DATASETS
    if imported.loss == "cross_entropy" and scores and data.task != REGRESSION and takes_classes:
        data = replace(data, classes=scores)
    train = replace(experiment.train, loss=imported.loss)
    return experiment.replace(network=imported.network, data=data, train=train)
