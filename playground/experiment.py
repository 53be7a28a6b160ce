"""What a playground run is made of, as plain data: the network, the data and the training setup.

Nothing here imports Qt, torch or minidl, so the app's window can open before torch is loaded
and every rule can be tested without a window. An ``Experiment`` is immutable; the widgets make
edited copies with ``dataclasses.replace``. ``validate()`` returns the problems as sentences a
learner can act on; ``to_json`` / ``from_json`` write and read the experiment file format (a
``format`` and a ``version`` field; newer versions are refused, never half-read).

Your own points: ``DataSpec.added`` holds points you clicked or imported, each with its label and
its side of the split (clicks add training points; an imported file keeps its ``split`` column
or is split with the data seed). They are trained on together with the generated points, or
alone with the ``custom`` dataset. ``DataSpec.removed`` lists generated points you removed (by
their index in generation order), so an edited dataset is still reproduced from its seed.

A class file has a ``classroom`` section too (``playground.classroom``): which panels and controls
learners see and may change. It does not change how the experiment trains.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .classroom import Classroom, ClassroomError
from .pointset import PointSet

__all__ = [
    "ACTIVATIONS",
    "CUSTOM",
    "CLASSIFICATION",
    "DATASETS",
    "DATASET_CHOICES",
    "INITS",
    "FEATURES",
    "FORMAT",
    "LAYER_KINDS",
    "LOSSES",
    "MAX_CLASSES",
    "MAX_LINEAR_LAYERS",
    "MAX_UNITS",
    "MULTICLASS_DATASETS",
    "OPTIMIZERS",
    "REGRESSION",
    "REGRESSION_DATASETS",
    "REGRESSION_LOSSES",
    "REGULARIZATIONS",
    "VERSION",
    "DataPoint",
    "DataSpec",
    "Experiment",
    "ExperimentError",
    "LayerSpec",
    "NetworkSpec",
    "SavedWeights",
    "TrainSpec",
    "dump_experiment",
    "load_experiment",
]

FORMAT = "minidl-playground-experiment"
VERSION = 2
"""Version 2 added your points, stop conditions and saved weights; version 1 files still open."""
MAX_FILE_BYTES = 64 * 2**20
"""Experiment files larger than this are refused before they are read."""

# Mirrors of the engine's registries (minidl.data.DATASETS, minidl.nn.layers.FEATURES), kept here
# so this module stays free of torch; tests/test_experiment.py checks that they agree.
DATASETS: tuple[str, ...] = (
    "disk",
    "circle",
    "xor",
    "gaussians",
    "spiral",
    "plane",
    "multigauss",
    "blobs",
    "moons",
    "checkerboard",
    "rings",
)
_PLAYGROUND_SQUARE = (-6.0, 6.0, -6.0, 6.0)
DOMAINS: dict[str, tuple[float, float, float, float]] = {
    "disk": (0.0, 1.0, 0.0, 1.0),
    **{name: _PLAYGROUND_SQUARE for name in DATASETS if name != "disk"},
}
REGRESSION = "regression"
CLASSIFICATION = "classification"
REGRESSION_DATASETS: tuple[str, ...] = ("plane", "multigauss")
"""Datasets whose targets are real numbers (TF Playground's regression sets, targets in [-1, 1])."""
DEFAULT_CLASSES: dict[str, int] = {"spiral": 2, "blobs": 3, "rings": 3}
"""Generated datasets that take a number of classes (``DataSpec.classes``), and the number they
start with; the others have two."""
MULTICLASS_DATASETS: tuple[str, ...] = tuple(DEFAULT_CLASSES)
MAX_CLASSES = 10
MAX_TARGET = 1e6
"""A regression target must lie within +-MAX_TARGET."""
CUSTOM = "custom"
"""The dataset of only your own points (clicked or imported), no generated ones."""
DATASET_CHOICES: tuple[str, ...] = (*DATASETS, CUSTOM)
CUSTOM_DOMAIN = (-6.0, 6.0, -6.0, 6.0)
MAX_ADDED_POINTS = 1_000_000
MAX_INLINE_POINTS = 20_000
"""An experiment file lists at most this many of your points; more are saved beside it, as a
CSV file the JSON names with its checksum (playground/document.py)."""
MAX_COORDINATE = 1e6
"""Your points' coordinates must lie within +-MAX_COORDINATE (beyond it, float32 scaling fails)."""
FEATURES: tuple[str, ...] = ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)")
FEATURE_LABELS: dict[str, str] = {
    "x1": "x₁",
    "x2": "x₂",
    "x1^2": "x₁²",
    "x2^2": "x₂²",
    "x1*x2": "x₁·x₂",
    "sin(x1)": "sin x₁",
    "sin(x2)": "sin x₂",
}

ACTIVATIONS: tuple[str, ...] = (
    "relu",
    "leaky_relu",
    "tanh",
    "sigmoid",
    "elu",
    "gelu",
    "silu",
    "softplus",
    "sine",
)
"""Activation layers; all but LeakyReLU take torch's defaults (ELU alpha 1, exact GELU,
Softplus beta 1) and no setting."""
LAYER_KINDS: tuple[str, ...] = ("linear", *ACTIVATIONS, "dropout")
LAYER_TITLES: dict[str, str] = {
    "linear": "Linear",
    "relu": "ReLU",
    "leaky_relu": "LeakyReLU",
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "elu": "ELU",
    "gelu": "GELU",
    "silu": "SiLU",
    "softplus": "Softplus",
    "sine": "Sine",
    "dropout": "Dropout",
}

LOSSES: dict[str, str] = {
    "mse": "Mean squared error",
    "mae": "Mean absolute error",
    "huber": "Huber (δ = 1)",
    "bce": "Binary cross-entropy",
    "cross_entropy": "Categorical cross-entropy",
}
REGRESSION_LOSSES: tuple[str, ...] = ("mse", "mae", "huber")
"""The losses a regression trains with (the cross-entropies need classes)."""
OPTIMIZERS: dict[str, str] = {
    "sgd": "SGD",
    "sgd_momentum": "SGD with momentum",
    "adam": "Adam",
}

REGULARIZATIONS: dict[str, str] = {
    "none": "None",
    "l1": "L1",
    "l2": "L2",
}
"""Penalties on the weights; ``TrainSpec.weight_decay`` is the rate."""
INITS: dict[str, str] = {
    "xavier": "Xavier (Glorot) uniform",
    "pytorch": "PyTorch's default",
    "zeros": "Zeros",
}
"""How the Linear layers' first weights are drawn."""

MAX_UNITS = 256
MAX_LINEAR_LAYERS = 16
MAX_LAYERS = 64
MAX_POINTS = 1_000_000
MAX_BATCH_SIZE = 10_000
DEFAULT_SLOPE = 0.01
DEFAULT_DROPOUT = 0.1


class ExperimentError(ValueError):
    """A setting or an experiment file that cannot be used; the message says what and why."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value)


# ---------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerSpec:
    """One layer of the stack: its kind and the one setting that kind has (if any).

    ``units`` belongs to Linear, ``slope`` to LeakyReLU, ``p`` to Dropout; the others are None.
    The last Linear of a network is its output layer: its width follows the loss, whatever
    ``units`` says.
    """

    kind: str
    units: int | None = None
    slope: float | None = None
    p: float | None = None

    @classmethod
    def make(cls, kind: str, value: float | None = None) -> LayerSpec:
        """A layer of ``kind`` with ``value`` as its setting, or the kind's default."""
        if kind == "linear":
            return cls(kind, units=int(value) if value is not None else 8)
        if kind == "leaky_relu":
            return cls(kind, slope=float(value) if value is not None else DEFAULT_SLOPE)
        if kind == "dropout":
            return cls(kind, p=float(value) if value is not None else DEFAULT_DROPOUT)
        if kind in LAYER_KINDS:
            if value is not None:
                raise ExperimentError(f"a {LAYER_TITLES[kind]} layer takes no setting")
            return cls(kind)
        raise ExperimentError(f"unknown layer type {kind!r} (known: {', '.join(LAYER_KINDS)})")

    @property
    def title(self) -> str:
        """The layer's display name, e.g. "LeakyReLU"."""
        return LAYER_TITLES.get(self.kind, self.kind)

    @property
    def value(self) -> float | None:
        """The kind's setting: units, slope or p (None for the plain activations)."""
        return {"linear": self.units, "leaky_relu": self.slope, "dropout": self.p}.get(self.kind)

    def with_value(self, value: float) -> LayerSpec:
        """A copy with the kind's setting changed."""
        return LayerSpec.make(self.kind, value)

    def problem(self) -> str | None:
        """Why this layer cannot be built, or None."""
        if self.kind not in LAYER_KINDS:
            return f"unknown layer type {self.kind!r}"
        if self.kind == "linear" and not (_is_int(self.units) and 1 <= self.units <= MAX_UNITS):
            return f"a Linear layer needs 1 to {MAX_UNITS} units, not {self.units!r}"
        if self.kind == "leaky_relu" and not (
            _is_number(self.slope) and 0 <= self.slope < 1 and math.isfinite(self.slope)
        ):
            return f"a LeakyReLU's slope must be in [0, 1), not {self.slope!r}"
        if self.kind == "dropout" and not (_is_number(self.p) and 0 <= self.p < 1):
            return f"a Dropout's p must be in [0, 1), not {self.p!r}"
        return None

    def to_text(self) -> str:
        """The layer in the command line's notation: "linear:25", "relu", "dropout:0.1"."""
        name = self.kind.replace("_", "")
        return name if self.value is None else f"{name}:{self.value:g}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict with only the settings this kind has."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: Any) -> LayerSpec:
        """Read ``to_dict``'s output, checking the types."""
        if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
            raise ExperimentError(f"a layer must be an object with a 'kind', got {data!r}")
        unknown = set(data) - {"kind", "units", "slope", "p"}
        if unknown:
            raise ExperimentError(f"a layer has unknown field(s) {sorted(unknown)}")
        spec = cls(data["kind"], data.get("units"), data.get("slope"), data.get("p"))
        problem = spec.problem()
        if problem:
            raise ExperimentError(problem)
        return spec


@dataclass(frozen=True)
class LayerShape:
    """A layer as built in context: its output width and its number of parameters."""

    spec: LayerSpec
    in_width: int
    out_width: int
    parameters: int
    is_output: bool


@dataclass(frozen=True)
class NetworkSpec:
    """The layer stack, first layer first; the last Linear is the output layer."""

    layers: tuple[LayerSpec, ...] = ()

    @classmethod
    def seed(cls) -> NetworkSpec:
        """The course's seed network 2-25-25-25-1: ReLU hidden layers, Sigmoid output."""
        hidden = [LayerSpec("linear", units=25), LayerSpec("relu")] * 3
        return cls((*hidden, LayerSpec("linear", units=1), LayerSpec("sigmoid")))

    @classmethod
    def parse(cls, text: str) -> NetworkSpec:
        """Read the command line's notation, e.g. "linear:25,relu,linear:1,sigmoid"."""
        aliases = {"leakyrelu": "leaky_relu", "leaky": "leaky_relu", "sin": "sine", "swish": "silu"}
        layers = []
        for i, item in enumerate(text.split(","), start=1):
            item = item.strip().lower()
            if not item:
                raise ExperimentError(f"layer {i} is empty (two commas in a row?)")
            name, _, arg = item.partition(":")
            kind = aliases.get(name, name)
            if kind not in LAYER_KINDS:
                known = ", ".join(k.replace("_", "") for k in LAYER_KINDS)
                raise ExperimentError(f"layer {i}: unknown layer {name!r} (known: {known})")
            value: float | None = None
            if arg:
                try:
                    value = int(arg) if kind == "linear" else float(arg)
                except ValueError:
                    what = "a whole number of units" if kind == "linear" else "a number"
                    raise ExperimentError(
                        f"layer {i}: {name}:{arg} needs {what} after the colon"
                    ) from None
            elif kind == "linear":
                raise ExperimentError(f"layer {i}: write linear:UNITS, e.g. linear:25")
            spec = LayerSpec.make(kind, value)
            problem = spec.problem()
            if problem:
                raise ExperimentError(f"layer {i}: {problem}")
            layers.append(spec)
        return cls(tuple(layers))

    def to_text(self) -> str:
        """The stack in the command line's notation (``parse`` reads it back)."""
        return ",".join(layer.to_text() for layer in self.layers)

    def output_index(self) -> int | None:
        """Index of the output layer (the last Linear), or None when there is no Linear."""
        for i in range(len(self.layers) - 1, -1, -1):
            if self.layers[i].kind == "linear":
                return i
        return None

    def shapes(self, in_width: int, out_width: int) -> list[LayerShape]:
        """Each layer's output width and parameter count for the given input and output width."""
        output = self.output_index()
        width, out = in_width, []
        for i, layer in enumerate(self.layers):
            params = 0
            new_width = width
            if layer.kind == "linear":
                new_width = out_width if i == output else int(layer.units or 0)
                params = width * new_width + new_width
            out.append(LayerShape(layer, width, new_width, params, i == output))
            width = new_width
        return out

    def parameter_count(self, in_width: int, out_width: int) -> int:
        """Total number of weights and biases."""
        return sum(s.parameters for s in self.shapes(in_width, out_width))

    def problems(self, loss: str) -> list[str]:
        """Why this stack cannot be trained with ``loss``, as sentences; empty when it can."""
        if not self.layers:
            return ["The network is empty: drag a Linear layer from the palette onto the stack."]
        found: list[str] = []
        for i, layer in enumerate(self.layers, start=1):
            problem = layer.problem()
            if problem:
                found.append(f"Layer {i}: {problem}.")
        if len(self.layers) > MAX_LAYERS:
            found.append(f"The network has {len(self.layers)} layers; the limit is {MAX_LAYERS}.")
        output = self.output_index()
        if output is None:
            found.append("The network needs a Linear layer: the last Linear is the output layer.")
            return found
        linears = sum(layer.kind == "linear" for layer in self.layers)
        if linears > MAX_LINEAR_LAYERS:
            found.append(
                f"The network has {linears} Linear layers; the limit is {MAX_LINEAR_LAYERS}."
            )
        if self.layers[0].kind != "linear":
            found.append(
                f"Start the network with a Linear layer (it reads the input features), "
                f"not a {self.layers[0].title}."
            )
        tail = self.output_tail()
        if loss == "bce" and (not tail or tail[-1] != "sigmoid"):
            found.append(
                "Binary cross-entropy needs probabilities: end the network with a Sigmoid."
            )
        if loss == "cross_entropy" and tail:
            found.append(
                "Categorical cross-entropy applies its own softmax to the output layer's "
                "scores: remove the activation after the last Linear."
            )
        return found

    def with_output(self, tail: tuple[str, ...]) -> NetworkSpec:
        """A copy whose activations after the output layer are ``tail`` (Dropout stays)."""
        output = self.output_index()
        if output is None:
            return self
        kept = [layer for layer in self.layers[output + 1 :] if layer.kind == "dropout"]
        return NetworkSpec(
            (*self.layers[: output + 1], *(LayerSpec.make(kind) for kind in tail), *kept)
        )

    def output_tail(self) -> tuple[str, ...]:
        """The activations after the output layer (Dropout aside), e.g. ("sigmoid",)."""
        output = self.output_index()
        if output is None:
            return ()
        return tuple(
            layer.kind for layer in self.layers[output + 1 :] if layer.kind != "dropout"
        )

    def to_list(self) -> list[dict[str, Any]]:
        """The layers as JSON-able dicts."""
        return [layer.to_dict() for layer in self.layers]

    @classmethod
    def from_list(cls, data: Any) -> NetworkSpec:
        """Read ``to_list``'s output."""
        if not isinstance(data, list):
            raise ExperimentError(f"'layers' must be a list, got {type(data).__name__}")
        return cls(tuple(LayerSpec.from_dict(item) for item in data))


# ---------------------------------------------------------------------------------------------
# Data and training
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataPoint:
    """One of your own points: where it is, its target and which side of the split.

    The target ``label`` is a class (a whole number 0 to K-1) or, for regression, a real
    number; ``DataSpec.problems`` checks it against the data's task.
    """

    x1: float
    x2: float
    label: int | float
    test: bool = False

    def problem(self) -> str | None:
        """Why this point cannot be used, or None."""
        for name, value in (("x1", self.x1), ("x2", self.x2)):
            if not _is_finite(value):
                return f"{name} must be a finite number, not {value!r}"
            if abs(value) > MAX_COORDINATE:
                return f"{name} = {value:g} is too large (the limit is +-{MAX_COORDINATE:g})"
        if not _is_finite(self.label) or abs(self.label) > MAX_TARGET:
            return f"the label must be a finite number, not {self.label!r}"
        if not isinstance(self.test, bool):
            return f"the split must be 'train' or 'test', not {self.test!r}"
        return None

    def label_problem(self, task: str, classes: int) -> str | None:
        """Why the label does not fit the data's task (``classes`` classes, or regression)."""
        if task == REGRESSION:
            return None
        if not (_is_int(self.label) or float(self.label).is_integer()) or not (
            0 <= self.label < classes
        ):
            return f"the label must be a class 0 to {classes - 1}, not {self.label!r}"
        return None

    def to_row(self) -> list[Any]:
        """The point as a JSON row: [x1, x2, label, "train" or "test"]."""
        return [self.x1, self.x2, self.label, "test" if self.test else "train"]

    @classmethod
    def from_row(cls, row: Any, where: str) -> DataPoint:
        """Read ``to_row``'s output; ``where`` names the row in the message if it is bad."""
        if not isinstance(row, list) or len(row) not in (3, 4):
            raise ExperimentError(f"{where} must be a list [x1, x2, label, split], got {row!r}")
        split = row[3] if len(row) == 4 else "train"
        if split not in ("train", "test"):
            raise ExperimentError(f"{where}: the split must be 'train' or 'test', not {split!r}")
        point = cls(row[0], row[1], row[2], split == "test")
        problem = point.problem()
        if problem:
            raise ExperimentError(f"{where}: {problem}")
        return point


def _domain_problem(domain: Any) -> str | None:
    if domain is None:
        return None
    if (
        not isinstance(domain, tuple)
        or len(domain) != 4
        or not all(_is_finite(v) and abs(v) <= 10 * MAX_COORDINATE for v in domain)
    ):
        return f"The plot area must be four finite numbers (x0, x1, y0, y1), not {domain!r}."
    x0, x1, y0, y1 = domain
    if not (x0 < x1 and y0 < y1):
        return f"The plot area {domain!r} is empty: each minimum must be below its maximum."
    return None


@dataclass(frozen=True)
class DataSpec:
    """How the points are made: dataset, size, split, noise, seed, input features, your points.

    ``points`` counts the generated training and test points together; ``test_fraction`` of them
    are held out. ``noise`` is 0 to 0.5 for every dataset (for the disk: the fraction of labels
    flipped). ``standardize`` scales each input feature to zero mean and unit variance (fitted
    on the training points); exported models fold the scaling into their first layer.

    ``added`` are your own points, trained on with the generated ones (the ``custom`` dataset has
    only them; ``points`` and ``noise`` then do not matter); an imported file's are a PointSet
    (compact arrays that behave as the tuple). ``removed`` are indices of generated
    points you took away. ``domain`` is the plot area of a custom dataset (None: -6 to 6).

    ``classes`` (2 to MAX_CLASSES) is the number of classes of spiral, blobs and rings and of
    custom data (labels 0 to classes - 1); the other classification sets have two.
    ``regression`` says custom data carry real-valued targets; plane and multigauss always do.
    """

    dataset: str = "disk"
    points: int = 2000
    test_fraction: float = 0.5
    noise: float = 0.0
    seed: int = 0
    features: tuple[str, ...] = ("x1", "x2")
    standardize: bool = True
    added: tuple[DataPoint, ...] | PointSet = ()
    removed: tuple[int, ...] = ()
    domain: tuple[float, float, float, float] | None = None
    classes: int = 2
    regression: bool = False

    @property
    def task(self) -> str:
        """REGRESSION for the regression datasets and custom data with real targets, else
        CLASSIFICATION."""
        if self.dataset in REGRESSION_DATASETS or (self.is_custom and self.regression):
            return REGRESSION
        return CLASSIFICATION

    @property
    def n_classes(self) -> int:
        """How many classes the data have (0 for regression)."""
        return 0 if self.task == REGRESSION else self.classes

    @property
    def is_custom(self) -> bool:
        """Whether the data are only your own points."""
        return self.dataset == CUSTOM

    @property
    def n_test(self) -> int:
        """How many generated points are test points (halves round up, like the engine's split)."""
        return math.floor(self.test_fraction * self.points + 0.5)

    @property
    def n_train(self) -> int:
        """How many generated points are training points."""
        return self.points - self.n_test

    def plot_domain(self) -> tuple[float, float, float, float]:
        """The area the plot shows: the dataset's, grown to hold every one of your points."""
        if self.is_custom:
            base = self.domain or CUSTOM_DOMAIN
        else:
            base = DOMAINS.get(self.dataset, CUSTOM_DOMAIN)
        x0, x1, y0, y1 = base
        if not self.added:
            return base
        min_x, max_x, min_y, max_y = _bounds(self.added)
        if min_x >= x0 and max_x <= x1 and min_y >= y0 and max_y <= y1:
            return base
        lo_x, hi_x, lo_y, hi_y = min(x0, min_x), max(x1, max_x), min(y0, min_y), max(y1, max_y)
        pad = 0.05 * max(hi_x - lo_x, hi_y - lo_y)
        return (lo_x - pad, hi_x + pad, lo_y - pad, hi_y + pad)

    def with_point(self, x1: float, x2: float, label: int | float) -> DataSpec:
        """A copy with one more of your points: a training point of class (or target)
        ``label``."""
        return replace(self, added=self.added + (DataPoint(float(x1), float(x2), label),))

    def without_point(self, point_id: int) -> DataSpec:
        """A copy without one point: ``point_id`` >= 0 is a generated point's index, -1 - i is
        your i-th point (the ids a Session's DataArrays give)."""
        if point_id >= 0:
            return replace(self, removed=tuple(sorted({*self.removed, point_id})))
        index = -1 - point_id
        return replace(self, added=self.added[:index] + self.added[index + 1 :])

    def with_imported(
        self, points: tuple[DataPoint, ...] | PointSet, *, regression: bool | None = None
    ) -> DataSpec:
        """The custom dataset of exactly ``points`` (an imported file), the plot fitted to them:
        real-valued targets with ``regression``, else as many classes as the labels need
        (None: a regression's when the points carry real targets, as a file read says)."""
        points = points if isinstance(points, PointSet) else tuple(points)
        if regression is None:
            regression = (
                points.regression
                if isinstance(points, PointSet)
                else any(isinstance(p.label, float) for p in points)
            )
        if regression or not len(points):
            classes = 2
        elif isinstance(points, PointSet):
            classes = max(2, int(points.label.max()) + 1)
        else:
            classes = max([2, *(int(p.label) + 1 for p in points)])
        return replace(
            self,
            dataset=CUSTOM,
            added=points,
            removed=(),
            domain=fit_domain(points),
            classes=min(classes, MAX_CLASSES),
            regression=regression,
        )

    def problems(self) -> list[str]:
        """Why this data cannot be generated, as sentences; empty when it can."""
        found = []
        if self.dataset not in DATASET_CHOICES:
            found.append(
                f"Unknown dataset {self.dataset!r} (choose from {', '.join(DATASET_CHOICES)})."
            )
        if not (_is_int(self.points) and 4 <= self.points <= MAX_POINTS):
            found.append(f"The number of points must be 4 to {MAX_POINTS}, not {self.points!r}.")
        if not (_is_number(self.test_fraction) and 0.05 <= self.test_fraction <= 0.95):
            found.append(
                f"The test fraction must be between 0.05 and 0.95, not {self.test_fraction!r}."
            )
        elif _is_int(self.points) and not (1 <= self.n_test < self.points):
            found.append("The split leaves no training or no test points: add points.")
        if not (_is_number(self.noise) and 0 <= self.noise <= 0.5):
            found.append(f"Noise must be between 0 and 0.5, not {self.noise!r}.")
        if not (_is_int(self.seed) and 0 <= self.seed < 2**63):
            found.append(f"The seed must be a whole number >= 0, not {self.seed!r}.")
        if not self.features:
            found.append("Choose at least one input feature.")
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown:
            found.append(f"Unknown input feature(s) {unknown} (choose from {', '.join(FEATURES)}).")
        if len(set(self.features)) != len(self.features):
            found.append("An input feature is chosen twice.")
        if len(self.added) > MAX_ADDED_POINTS:
            found.append(
                f"There are {len(self.added)} added points; the limit is {MAX_ADDED_POINTS}."
            )
        # a PointSet's rows were checked when it was made
        checked = () if isinstance(self.added, PointSet) else self.added[:MAX_ADDED_POINTS]
        for i, point in enumerate(checked, start=1):
            problem = point.problem() if isinstance(point, DataPoint) else "not a point"
            if problem:
                found.append(f"Added point {i}: {problem}.")
                break
        if not all(_is_int(i) and 0 <= i < MAX_POINTS for i in self.removed):
            found.append(f"Removed points must be indices 0 to {MAX_POINTS - 1}.")
        problem = _domain_problem(self.domain)
        if problem:
            found.append(problem)
        if not (_is_int(self.classes) and 2 <= self.classes <= MAX_CLASSES):
            found.append(f"The number of classes must be 2 to {MAX_CLASSES}, not {self.classes!r}.")
        elif (
            self.task == CLASSIFICATION
            and self.classes != 2
            and not (self.is_custom or self.dataset in MULTICLASS_DATASETS)
        ):
            found.append(
                f"The {self.dataset} dataset has two classes; more classes come with "
                f"{', '.join(MULTICLASS_DATASETS)} or your own points."
            )
        else:
            problem = _labels_problem(self.added, self.task, self.classes)
            if problem:
                found.append(problem)
        if not isinstance(self.regression, bool):
            found.append(f"data.regression must be true or false, not {self.regression!r}.")
        if self.is_custom and not _has_points(self.added, test=False):
            found.append(
                "The custom dataset has no training points yet: click on the plot to add one "
                "(shift-click for class 0), or import points from a CSV file (File menu)."
            )
        return found

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict: your points as rows [x1, x2, label, "train" or "test"] (more than
        MAX_INLINE_POINTS are refused: they are saved beside the file, see dump_experiment).

        ``classes`` and ``regression`` are written only when they are not the defaults, so a
        two-class experiment's file is what it always was (older playgrounds read it).
        """
        if len(self.added) > MAX_INLINE_POINTS:
            raise ExperimentError(
                f"{len(self.added):,} points are too many to list in an experiment file (at "
                f"most {MAX_INLINE_POINTS:,}): save them beside it"
            )
        skip = ("added", "removed", "domain", "classes", "regression")
        out = {
            **{k: v for k, v in asdict(self).items() if k not in skip},
            "features": list(self.features),
            "added": [p.to_row() for p in self.added],
            "removed": list(self.removed),
            "domain": list(self.domain) if self.domain is not None else None,
        }
        if self.classes != 2:
            out["classes"] = self.classes
        if self.regression:
            out["regression"] = True
        return out

    @classmethod
    def from_dict(cls, data: Any) -> DataSpec:
        """Read ``to_dict``'s output (missing fields take their defaults)."""
        if not isinstance(data, dict):
            raise ExperimentError(f"the data settings must be an object, got {type(data).__name__}")
        values = dict(data)
        added = values.pop("added", [])
        if isinstance(added, PointSet):  # read from the file beside the experiment's
            points: tuple[DataPoint, ...] | PointSet = added
        else:
            if not isinstance(added, list):
                raise ExperimentError("data.added must be a list of [x1, x2, label, split] rows")
            if len(added) > MAX_INLINE_POINTS:
                raise ExperimentError(
                    f"data.added has {len(added)} points; the limit is {MAX_INLINE_POINTS}"
                )
            points = tuple(
                DataPoint.from_row(row, f"data.added[{i}]") for i, row in enumerate(added)
            )
        removed = values.pop("removed", [])
        if not isinstance(removed, list):
            raise ExperimentError("data.removed must be a list of point indices")
        domain = values.pop("domain", None)
        if domain is not None and not isinstance(domain, list):
            raise ExperimentError("data.domain must be a list [x min, x max, y min, y max]")
        spec = _from_dict(cls, values, "data", tuple_fields=("features",))
        spec = replace(
            spec,
            added=points,
            removed=tuple(removed),
            domain=tuple(domain) if domain is not None else None,
        )
        problems = [p for p in spec.problems() if "no training points yet" not in p]
        if problems:
            raise ExperimentError(" ".join(problems))
        return spec


def _bounds(points: tuple[DataPoint, ...] | PointSet) -> tuple[float, float, float, float]:
    """(min x1, max x1, min x2, max x2) of some points (at least one)."""
    if isinstance(points, PointSet):
        (min_x, min_y), (max_x, max_y) = points.xy.min(0).tolist(), points.xy.max(0).tolist()
        return min_x, max_x, min_y, max_y
    xs = [p.x1 for p in points]
    ys = [p.x2 for p in points]
    return min(xs), max(xs), min(ys), max(ys)


def _labels_problem(
    points: tuple[DataPoint, ...] | PointSet, task: str, classes: int
) -> str | None:
    """Why some of ``points``' labels do not fit the task (``classes`` classes, or a
    regression), naming the first such point; None when they all fit."""
    if isinstance(points, PointSet):  # its rows are valid: only the task can disagree
        if task == REGRESSION or not len(points):
            return None
        if points.regression:
            return "Your points carry real-valued targets: the data are a regression's."
        bad = (points.label >= classes).nonzero()[0]
        if not len(bad):
            return None
        points = points[int(bad[0]) : int(bad[0]) + 1]
        first = int(bad[0]) + 1
    else:
        first = 1
    for i, point in enumerate(points[:MAX_ADDED_POINTS], start=first):
        problem = (
            point.label_problem(task, classes)
            if isinstance(point, DataPoint) and point.problem() is None
            else None
        )
        if problem:
            return f"Added point {i}: {problem}."
    return None


def _has_points(points: tuple[DataPoint, ...] | PointSet, *, test: bool) -> bool:
    """Whether any of ``points`` is a test point (``test``) or a training point."""
    if isinstance(points, PointSet):
        return bool(points.test.any() if test else not points.test.all())
    return any(isinstance(p, DataPoint) and p.test == test for p in points)


def fit_domain(
    points: tuple[DataPoint, ...] | PointSet,
) -> tuple[float, float, float, float] | None:
    """A plot area around ``points`` with a margin (None for no points): a file's data fills it."""
    if not len(points):
        return None
    min_x, max_x, min_y, max_y = _bounds(points)
    span = max(max_x - min_x, max_y - min_y)
    pad = 0.1 * span if span > 0 else 1.0
    cx, cy = (max_x + min_x) / 2, (max_y + min_y) / 2
    half = span / 2 + pad  # a square area: the plot keeps its aspect ratio
    return (cx - half, cx + half, cy - half, cy + half)


@dataclass(frozen=True)
class TrainSpec:
    """Loss, optimiser and their settings; ``seed`` draws the weights and the batch order.

    The stop conditions pause Play by themselves: ``max_epochs`` after that many epochs,
    ``target_test_loss`` once the test loss is at or below it, ``target_test_metric`` once the
    test accuracy (a regression: the test R²) is at or above it, ``patience`` when the test loss
    has not improved for that many epochs in a row (None: that condition is off).

    ``regularization`` ("none", "l1", "l2") is the penalty on the weights and ``weight_decay``
    its rate (an older file's weight decay is the L2 rate it always was). ``init`` draws the
    first weights: "xavier" (the seeds'), "pytorch" (torch.nn.Linear's) or "zeros".
    """

    loss: str = "mse"
    optimizer: str = "sgd"
    learning_rate: float = 0.1
    batch_size: int = 50
    weight_decay: float = 0.0
    momentum: float = 0.9
    seed: int = 0
    max_epochs: int | None = None
    target_test_loss: float | None = None
    patience: int | None = None
    regularization: str = "l2"
    init: str = "xavier"
    target_test_metric: float | None = None

    @property
    def watches_test_loss(self) -> bool:
        """Whether a stop condition needs the test set (its loss, accuracy or R²)."""
        return (
            self.target_test_loss is not None
            or self.patience is not None
            or self.target_test_metric is not None
        )

    def problems(self) -> list[str]:
        """Why training cannot start with these settings, as sentences; empty when it can."""
        found = []
        if self.loss not in LOSSES:
            found.append(f"Unknown loss {self.loss!r} (choose from {', '.join(LOSSES)}).")
        if self.optimizer not in OPTIMIZERS:
            found.append(
                f"Unknown optimizer {self.optimizer!r} (choose from {', '.join(OPTIMIZERS)})."
            )
        if not (_is_number(self.learning_rate) and 0 < self.learning_rate <= 100):
            found.append(
                f"The learning rate must be above 0 and at most 100, not {self.learning_rate!r}."
            )
        if not (_is_int(self.batch_size) and 1 <= self.batch_size <= MAX_BATCH_SIZE):
            found.append(f"The batch size must be 1 to {MAX_BATCH_SIZE}, not {self.batch_size!r}.")
        if not (_is_number(self.weight_decay) and 0 <= self.weight_decay <= 10):
            found.append(
                f"The regularisation rate must be between 0 and 10, not {self.weight_decay!r}."
            )
        if self.regularization not in REGULARIZATIONS:
            found.append(
                f"Unknown regularisation {self.regularization!r} "
                f"(choose from {', '.join(REGULARIZATIONS)})."
            )
        if self.init not in INITS:
            found.append(
                f"Unknown initialisation {self.init!r} (choose from {', '.join(INITS)})."
            )
        if not (_is_number(self.momentum) and 0 <= self.momentum < 1):
            found.append(f"Momentum must be in [0, 1), not {self.momentum!r}.")
        if not (_is_int(self.seed) and 0 <= self.seed < 2**63):
            found.append(f"The seed must be a whole number >= 0, not {self.seed!r}.")
        if self.max_epochs is not None and not (
            _is_int(self.max_epochs) and 0 < self.max_epochs <= MAX_EPOCHS
        ):
            found.append(
                f"The epoch limit must be a whole number from 1 to {MAX_EPOCHS:,}, "
                f"not {self.max_epochs!r}."
            )
        if self.target_test_loss is not None and not (
            _is_finite(self.target_test_loss) and 0 < self.target_test_loss <= 1e6
        ):
            found.append(
                f"The target test loss must be above 0 and at most 1e6, "
                f"not {self.target_test_loss!r}."
            )
        if self.target_test_metric is not None and not (
            _is_finite(self.target_test_metric) and 0 < self.target_test_metric <= 1
        ):
            found.append(
                f"The target test accuracy (or R²) must be above 0 and at most 1, "
                f"not {self.target_test_metric!r}."
            )
        if self.patience is not None and not (
            _is_int(self.patience) and 0 < self.patience <= MAX_EPOCHS
        ):
            found.append(
                f"The patience must be a whole number of epochs from 1 to {MAX_EPOCHS:,}, "
                f"not {self.patience!r}."
            )
        return found

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; ``regularization``, ``init`` and ``target_test_metric`` only when
        not the defaults (so a file of the settings older playgrounds know reads there too)."""
        out = asdict(self)
        for name in ("regularization", "init", "target_test_metric"):
            if out[name] == getattr(TrainSpec, name):
                del out[name]
        return out

    @classmethod
    def from_dict(cls, data: Any) -> TrainSpec:
        """Read ``to_dict``'s output (missing fields take their defaults)."""
        spec = _from_dict(cls, data, "training")
        problems = spec.problems()
        if problems:
            raise ExperimentError(" ".join(problems))
        return spec


MAX_EPOCHS = 10_000_000


def _from_dict(cls: type, data: Any, what: str, tuple_fields: tuple[str, ...] = ()) -> Any:
    if not isinstance(data, dict):
        raise ExperimentError(f"the {what} settings must be an object, got {type(data).__name__}")
    known = set(cls.__dataclass_fields__)
    unknown = set(data) - known
    if unknown:
        raise ExperimentError(f"the {what} settings have unknown field(s) {sorted(unknown)}")
    values = dict(data)
    for name in tuple_fields:
        if name in values:
            if not isinstance(values[name], list):
                raise ExperimentError(f"{what}.{name} must be a list")
            values[name] = tuple(values[name])
    return cls(**values)


# ---------------------------------------------------------------------------------------------
# Trained weights inside an experiment file
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedWeights:
    """Trained weights kept in an experiment file, and the epoch they were trained to.

    ``tensors`` maps the network's state_dict names ("0.weight" is (out, in), as in torch) to
    nested lists of numbers: the weights the session trains, on the inputs as the data settings
    prepare them (features, then standardisation fitted on the same training points).
    """

    epoch: int
    tensors: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {"epoch": self.epoch, "tensors": self.tensors}

    @classmethod
    def from_dict(cls, data: Any) -> SavedWeights:
        """Read ``to_dict``'s output, checking that every value is a finite float32 number."""
        if not isinstance(data, dict) or set(data) - {"epoch", "tensors"}:
            raise ExperimentError("'weights' must be an object with 'epoch' and 'tensors'")
        epoch, tensors = data.get("epoch", 0), data.get("tensors")
        if not (_is_int(epoch) and 0 <= epoch <= MAX_EPOCHS):
            raise ExperimentError(f"weights.epoch must be a whole number >= 0, not {epoch!r}")
        if not isinstance(tensors, dict):
            raise ExperimentError("weights.tensors must be an object of name: nested lists")
        for name, value in tensors.items():
            _check_numbers(value, f"weights.tensors[{name!r}]")
        return cls(epoch, tensors)

    def problems(self, network: NetworkSpec, in_width: int, out_width: int) -> list[str]:
        """Why these weights do not fit ``network``, as sentences; empty when they do."""
        expected: dict[str, tuple[int, ...]] = {}
        for i, shape in enumerate(network.shapes(in_width, out_width)):
            if shape.spec.kind == "linear":
                expected[f"{i}.weight"] = (shape.out_width, shape.in_width)
                expected[f"{i}.bias"] = (shape.out_width,)
        if set(expected) != set(self.tensors):
            missing = sorted(set(expected) - set(self.tensors))
            extra = sorted(set(self.tensors) - set(expected))
            return [
                "The saved weights do not fit the network"
                + (f": missing {', '.join(missing)}" if missing else "")
                + (f"; unexpected {', '.join(extra)}" if extra else "")
                + "."
            ]
        found = []
        for name, shape in expected.items():
            actual = _shape_of(self.tensors[name])
            if actual != shape:
                found.append(
                    f"The saved weight {name} has shape {actual or 'ragged'}; the network needs "
                    f"{shape}."
                )
        return found


_FLOAT32_MAX = 3.4028234663852886e38


def _check_numbers(value: Any, where: str, depth: int = 0) -> None:
    if depth > 2:
        raise ExperimentError(f"{where} is nested too deeply for a weight")
    if isinstance(value, list):
        for item in value:
            _check_numbers(item, where, depth + 1)
        return
    if not _is_finite(value):
        raise ExperimentError(f"{where} holds {value!r}, not a finite number")
    if abs(value) > _FLOAT32_MAX:
        raise ExperimentError(f"{where} holds {value:g}, too large for a float32 weight")


def _shape_of(value: Any) -> tuple[int, ...] | None:
    """The shape of a rectangular nested list of numbers, or None if it is ragged."""
    if not isinstance(value, list):
        return ()
    shapes = {_shape_of(item) for item in value}
    if len(shapes) > 1 or None in shapes:
        return None
    inner = shapes.pop() if shapes else ()
    return (len(value), *inner)


# ---------------------------------------------------------------------------------------------
# The whole experiment
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Experiment:
    """Everything a run needs: network, data and training settings.

    ``classroom`` (a class file's: what learners see and may change) does not change how it
    trains; None for an ordinary experiment.
    """

    network: NetworkSpec = field(default_factory=NetworkSpec.seed)
    data: DataSpec = field(default_factory=DataSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    classroom: Classroom | None = None

    @property
    def in_width(self) -> int:
        """The network's input width: one column per input feature."""
        return len(self.data.features)

    @property
    def task(self) -> str:
        """REGRESSION or CLASSIFICATION, as the data say."""
        return self.data.task

    @property
    def out_width(self) -> int:
        """The network's output width: a score per class for cross-entropy, else one unit
        (a probability, or the predicted value)."""
        if self.train.loss == "cross_entropy" and self.task == CLASSIFICATION:
            return self.data.classes
        return 1

    def output_tail(self) -> tuple[str, ...]:
        """The activations the output layer needs for this loss and task: a Sigmoid for
        binary cross-entropy, none for categorical cross-entropy and regression, else the
        network's own."""
        if self.task == REGRESSION or self.train.loss == "cross_entropy":
            return ()
        if self.train.loss == "bce":
            return ("sigmoid",)
        return self.network.output_tail()

    def with_fitting_output(self) -> Experiment:
        """A copy whose network ends the way ``output_tail`` says (the command line uses it
        when no --layers are given, so ``--dataset plane`` trains without more flags)."""
        tail = self.network.output_tail()
        wanted = self.output_tail()
        if tail == wanted or (self.task == REGRESSION and tail == ("tanh",)):
            return self
        return self.replace(network=self.network.with_output(wanted))

    def loss_misfit(self) -> str | None:
        """Why the loss does not suit the data's task, or None."""
        loss = LOSSES.get(self.train.loss, self.train.loss)
        if self.task == REGRESSION and self.train.loss not in REGRESSION_LOSSES:
            return (
                f"{loss} needs classes, and these data have real-valued targets: choose "
                "mean squared error, mean absolute error or Huber for a regression."
            )
        many = self.task == CLASSIFICATION and self.data.classes > 2
        if many and self.train.loss != "cross_entropy":
            return (
                f"{self.data.classes} classes need categorical cross-entropy (a score per "
                f"class and a softmax), not {loss.lower()}."
            )
        return None

    def task_problems(self) -> list[str]:
        """Why the loss or the output layer does not suit the data's task, as sentences."""
        misfit = self.loss_misfit()
        if misfit is not None:
            return [misfit]
        tail = self.network.output_tail()
        if (
            self.task == REGRESSION
            and tail not in ((), ("tanh",))
            and self.network.output_index() is not None
        ):
            return [
                "A regression predicts any value: end the network with its Linear layer "
                f"(or a Tanh, for targets in [-1, 1]), not a {LAYER_TITLES.get(tail[-1])}."
            ]
        return []

    def problems(self) -> list[str]:
        """Everything that stops this experiment from training, as sentences: a loss that
        does not suit the task first (the output layer's rules for that loss then do not
        matter)."""
        misfit = self.loss_misfit()
        found = [
            *([misfit] if misfit else []),
            *self.network.problems("mse" if misfit else self.train.loss),
            *self.data.problems(),
            *self.train.problems(),
        ]
        if not found:
            found.extend(self.task_problems())
        if (
            self.train.watches_test_loss
            and self.data.is_custom
            and not _has_points(self.data.added, test=True)
        ):
            found.append(
                "The stop conditions on the test loss need test points, and all your points "
                "are training points: import points with a test split, or turn those "
                "conditions off."
            )
        return found

    def validate(self) -> Experiment:
        """Return self, or raise ExperimentError listing every problem."""
        problems = self.problems()
        if problems:
            raise ExperimentError(" ".join(problems))
        return self

    def replace(self, **changes: Any) -> Experiment:
        """A copy with some of network / data / train replaced."""
        return replace(self, **changes)

    def to_json(self) -> str:
        """The experiment file's text (without weights); see ``dump_experiment``."""
        return dump_experiment(self)

    @classmethod
    def from_json(cls, text: str) -> Experiment:
        """Read an experiment file's text (checking any weights); see ``load_experiment``."""
        return load_experiment(text)[0]


def dump_experiment(
    experiment: Experiment,
    weights: SavedWeights | None = None,
    points_file: dict[str, Any] | None = None,
) -> str:
    """The experiment file's text: human-readable JSON with a format and a version.

    Lists of numbers (a point, a row of weights) stay on one line each, so the file reads as a
    table and diffs well. ``points_file`` ({"file", "sha256", "points"}) stands for your points
    where they are in a file beside this one (more than MAX_INLINE_POINTS: document.py).
    """
    data = experiment.data
    if points_file is None:
        data_doc = data.to_dict()
    else:
        data_doc = {**replace(data, added=()).to_dict(), "added": points_file}
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "network": {"layers": experiment.network.to_list()},
        "data": data_doc,
        "training": experiment.train.to_dict(),
    }
    if experiment.classroom is not None:
        doc["classroom"] = experiment.classroom.to_dict()
    if weights is not None:
        doc["weights"] = weights.to_dict()
    return _format(doc) + "\n"


def _format(value: Any, indent: int = 0) -> str:
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(k)}: {_format(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and any(isinstance(v, list | dict) for v in value):
        items = [f"{inner}{_format(v, indent + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


POINTS_FILE_FIELDS = ("file", "sha256", "points")


def _points_beside(
    reference: dict[str, Any], reader: Callable[[dict[str, Any]], PointSet] | None
) -> PointSet:
    """The points of ``"added": {"file", "sha256", "points"}``, checked against the reference."""
    if set(reference) != set(POINTS_FILE_FIELDS) or not all(
        isinstance(reference[k], str) for k in ("file", "sha256")
    ):
        raise ExperimentError(
            "data.added must be a list of points or {\"file\": name, \"sha256\": checksum, "
            "\"points\": count}"
        )
    if reader is None:
        raise ExperimentError(
            f"its points are in the file {reference['file']!r} beside it: open the experiment "
            "from its file"
        )
    points = reader(reference)
    if len(points) != reference["points"]:
        raise ExperimentError(
            f"its points file {reference['file']} has {len(points):,} points, the experiment "
            f"{reference['points']!r}"
        )
    return points


def _reject_constant(name: str) -> Any:
    raise ExperimentError(f"{name} is not allowed in an experiment file (JSON has no {name})")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ExperimentError(f"the number {text} is too large")
    return value


# rows of weights (a list per output unit of each Linear, one per tensor) and your points
_MAX_CONTAINERS = MAX_LINEAR_LAYERS * (MAX_UNITS + 2) + MAX_INLINE_POINTS + 1000
# numbers of every weight and bias and the four values of each of your points
_MAX_VALUES = MAX_LINEAR_LAYERS * (MAX_UNITS + 1) * MAX_UNITS + 4 * MAX_INLINE_POINTS + 1000


def load_experiment(
    text: str, points_reader: Callable[[dict[str, Any]], PointSet] | None = None
) -> tuple[Experiment, SavedWeights | None]:
    """Read an experiment file's text: the experiment and its weights (None if it has none).

    Raises ExperimentError saying what is wrong: not JSON (with line and column), another
    format, a newer version, an unknown field, a value of the wrong type or out of range,
    weights that do not fit the network. Nothing is returned unless everything checks out.
    Points kept in a file beside it (``"added": {"file": ...}``) are read by
    ``points_reader(reference)`` (document.read_experiment's; without one they are refused).
    """
    if len(text) > MAX_FILE_BYTES:
        raise ExperimentError(f"the file is larger than {MAX_FILE_BYTES // 2**20} MB")
    # what json.loads builds is bounded by what the largest experiment holds, not the file size
    containers, values = text.count("[") + text.count("{"), text.count(",")
    if containers > _MAX_CONTAINERS or values > _MAX_VALUES:
        raise ExperimentError(
            f"the file holds {max(containers, values):,} lists or values, more than any "
            "experiment has (the largest network's weights and all your points)"
        )
    try:
        doc = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as e:
        raise ExperimentError(
            f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); is it truncated?"
        ) from None
    except ValueError as e:  # e.g. an integer with thousands of digits
        raise ExperimentError(f"a number in the file cannot be read ({e})") from None
    except RecursionError:
        raise ExperimentError("the file is nested too deeply") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ExperimentError(f"not a playground experiment (its 'format' is not {FORMAT!r})")
    version = doc.get("version")
    if not _is_int(version) or version < 1:
        raise ExperimentError(f"its 'version' must be a positive whole number, got {version!r}")
    if version > VERSION:
        raise ExperimentError(
            f"written by a newer playground (file version {version}, this one reads up to "
            f"{VERSION}); update the playground to open it"
        )
    known = {"format", "version", "network", "data", "training", "classroom", "weights"}
    unknown = set(doc) - known
    if unknown:
        raise ExperimentError(f"the file has unknown field(s) {sorted(unknown)}")
    network = doc.get("network", {})
    if not isinstance(network, dict):
        raise ExperimentError("'network' must be an object with a list of 'layers'")
    data = doc.get("data", {})
    if isinstance(data, dict) and isinstance(data.get("added"), dict):
        data = {**data, "added": _points_beside(data["added"], points_reader)}
    try:
        experiment = Experiment(
            NetworkSpec.from_list(network.get("layers", [])),
            DataSpec.from_dict(data),
            TrainSpec.from_dict(doc.get("training", {})),
            Classroom.from_dict(doc["classroom"]) if doc.get("classroom") is not None else None,
        )
    except TypeError as e:
        raise ExperimentError(f"a setting has the wrong type ({e})") from None
    except ClassroomError as e:
        raise ExperimentError(str(e)) from None
    weights = None
    if doc.get("weights") is not None:
        weights = SavedWeights.from_dict(doc["weights"])
        problems = weights.problems(experiment.network, experiment.in_width, experiment.out_width)
        if problems:
            raise ExperimentError(" ".join(problems))
    return experiment, weights
