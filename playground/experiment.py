"""What a playground run is made of, as plain data: the network, the data and the training setup.

Nothing here imports Qt, torch or minidl, so the app's window can open before torch is loaded
and every rule can be tested without a window. An ``Experiment`` is immutable; the widgets make
edited copies with ``dataclasses.replace``. ``validate()`` returns the problems as sentences a
learner can act on; ``to_json`` / ``from_json`` write and read the experiment file format (a
``format`` and a ``version`` field; newer versions are refused, never half-read).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

__all__ = [
    "ACTIVATIONS",
    "DATASETS",
    "FEATURES",
    "FORMAT",
    "LAYER_KINDS",
    "LOSSES",
    "MAX_LINEAR_LAYERS",
    "MAX_UNITS",
    "OPTIMIZERS",
    "VERSION",
    "DataSpec",
    "Experiment",
    "ExperimentError",
    "LayerSpec",
    "NetworkSpec",
    "TrainSpec",
]

FORMAT = "minidl-playground-experiment"
VERSION = 1

# Mirrors of the engine's registries (minidl.data.DATASETS, minidl.nn.layers.FEATURES), kept here
# so this module stays free of torch; tests/test_experiment.py checks that they agree.
DATASETS: tuple[str, ...] = ("disk", "circle", "xor", "gaussians", "spiral")
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

LAYER_KINDS: tuple[str, ...] = ("linear", "relu", "leaky_relu", "tanh", "sigmoid", "dropout")
ACTIVATIONS: tuple[str, ...] = ("relu", "leaky_relu", "tanh", "sigmoid")
LAYER_TITLES: dict[str, str] = {
    "linear": "Linear",
    "relu": "ReLU",
    "leaky_relu": "LeakyReLU",
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "dropout": "Dropout",
}
# the engine's class name for each kind (minidl.nn.<name>)
LAYER_CLASSES: dict[str, str] = {
    "linear": "Linear",
    "relu": "ReLU",
    "leaky_relu": "LeakyReLU",
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "dropout": "Dropout",
}

LOSSES: dict[str, str] = {
    "mse": "Mean squared error",
    "mae": "Mean absolute error",
    "bce": "Binary cross-entropy",
    "cross_entropy": "Categorical cross-entropy",
}
OPTIMIZERS: dict[str, str] = {
    "sgd": "SGD",
    "sgd_momentum": "SGD with momentum",
    "adam": "Adam",
}

MAX_UNITS = 256
MAX_LINEAR_LAYERS = 16
MAX_LAYERS = 64
MAX_POINTS = 20_000
MAX_BATCH_SIZE = 10_000
DEFAULT_SLOPE = 0.01
DEFAULT_DROPOUT = 0.1


class ExperimentError(ValueError):
    """A setting or an experiment file that cannot be used; the message says what and why."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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
        aliases = {"leakyrelu": "leaky_relu", "leaky": "leaky_relu"}
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
        tail = [layer.kind for layer in self.layers[output + 1 :] if layer.kind != "dropout"]
        if loss == "bce" and (not tail or tail[-1] != "sigmoid"):
            found.append(
                "Binary cross-entropy needs probabilities: end the network with a Sigmoid."
            )
        if loss == "cross_entropy" and tail:
            found.append(
                "Categorical cross-entropy applies its own softmax to the output layer's two "
                "scores: remove the activation after the last Linear."
            )
        return found

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
class DataSpec:
    """How the points are made: dataset, size, split, noise, seed, and the input features.

    ``points`` counts training and test points together; ``test_fraction`` of them are held out.
    ``noise`` is 0 to 0.5 for every dataset (for the disk: the fraction of labels flipped).
    ``standardize`` scales each input feature to zero mean and unit variance (fitted on the
    training points); exported models fold the scaling into their first layer.
    """

    dataset: str = "disk"
    points: int = 2000
    test_fraction: float = 0.5
    noise: float = 0.0
    seed: int = 0
    features: tuple[str, ...] = ("x1", "x2")
    standardize: bool = True

    @property
    def n_test(self) -> int:
        """How many of the points are test points (halves round up, like the engine's split)."""
        return math.floor(self.test_fraction * self.points + 0.5)

    @property
    def n_train(self) -> int:
        """How many of the points are training points."""
        return self.points - self.n_test

    def problems(self) -> list[str]:
        """Why this data cannot be generated, as sentences; empty when it can."""
        found = []
        if self.dataset not in DATASETS:
            found.append(f"Unknown dataset {self.dataset!r} (choose from {', '.join(DATASETS)}).")
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
        return found

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {**asdict(self), "features": list(self.features)}

    @classmethod
    def from_dict(cls, data: Any) -> DataSpec:
        """Read ``to_dict``'s output (missing fields take their defaults)."""
        spec = _from_dict(cls, data, "data", tuple_fields=("features",))
        problems = spec.problems()
        if problems:
            raise ExperimentError(" ".join(problems))
        return spec


@dataclass(frozen=True)
class TrainSpec:
    """Loss, optimiser and their settings; ``seed`` draws the weights and the batch order.

    ``max_epochs`` (None: train until paused) makes Play stop by itself after that many epochs.
    """

    loss: str = "mse"
    optimizer: str = "sgd"
    learning_rate: float = 0.1
    batch_size: int = 50
    weight_decay: float = 0.0
    momentum: float = 0.9
    seed: int = 0
    max_epochs: int | None = None

    @property
    def out_width(self) -> int:
        """The output layer's width the loss asks for: two scores for softmax, else one."""
        return 2 if self.loss == "cross_entropy" else 1

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
            found.append(f"Weight decay must be between 0 and 10, not {self.weight_decay!r}.")
        if not (_is_number(self.momentum) and 0 <= self.momentum < 1):
            found.append(f"Momentum must be in [0, 1), not {self.momentum!r}.")
        if not (_is_int(self.seed) and 0 <= self.seed < 2**63):
            found.append(f"The seed must be a whole number >= 0, not {self.seed!r}.")
        if self.max_epochs is not None and not (_is_int(self.max_epochs) and self.max_epochs > 0):
            found.append(
                f"The epoch limit must be a positive whole number, not {self.max_epochs!r}."
            )
        return found

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> TrainSpec:
        """Read ``to_dict``'s output (missing fields take their defaults)."""
        spec = _from_dict(cls, data, "training")
        problems = spec.problems()
        if problems:
            raise ExperimentError(" ".join(problems))
        return spec


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
# The whole experiment
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Experiment:
    """Everything a run needs: network, data and training settings."""

    network: NetworkSpec = field(default_factory=NetworkSpec.seed)
    data: DataSpec = field(default_factory=DataSpec)
    train: TrainSpec = field(default_factory=TrainSpec)

    @property
    def in_width(self) -> int:
        """The network's input width: one column per input feature."""
        return len(self.data.features)

    @property
    def out_width(self) -> int:
        """The network's output width, set by the loss."""
        return self.train.out_width

    def problems(self) -> list[str]:
        """Everything that stops this experiment from training, as sentences."""
        return [
            *self.network.problems(self.train.loss),
            *self.data.problems(),
            *self.train.problems(),
        ]

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
        """The experiment file's text: human-readable JSON with a format and a version."""
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "network": {"layers": self.network.to_list()},
            "data": self.data.to_dict(),
            "training": self.train.to_dict(),
        }
        return json.dumps(doc, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Experiment:
        """Read an experiment file's text; raises ExperimentError saying what is wrong."""
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise ExperimentError(
                f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})"
            ) from None
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
        network = doc.get("network", {})
        if not isinstance(network, dict):
            raise ExperimentError("'network' must be an object with a list of 'layers'")
        try:
            return cls(
                NetworkSpec.from_list(network.get("layers", [])),
                DataSpec.from_dict(doc.get("data", {})),
                TrainSpec.from_dict(doc.get("training", {})),
            )
        except TypeError as e:
            raise ExperimentError(f"a setting has the wrong type ({e})") from None
