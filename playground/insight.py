"""The inside of a network, as the network view draws it: neuron columns, unit masks, hidden space.

No Qt here. A layer stack is drawn as *neuron columns*: one for the input features, then one per
Linear layer, which also holds the elementwise layers after it (activation, dropout); a unit of a
column is the output of the column's last layer. A stack that opens with an elementwise layer
before any Linear gives that layer a column of its own.

``MaskedNetwork`` runs a Sequential with some units switched off (held at zero). The session
trains through it only while a unit is off: with every unit on, the plain Sequential trains as
before, on the engine's fast step, and the state dict keeps its keys either way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import minidl
from minidl import nn

from .experiment import LAYER_TITLES, NetworkSpec

__all__ = [
    "Column",
    "HiddenSpace",
    "MaskedNetwork",
    "columns",
    "layer_outputs",
    "principal_axes",
]

INPUTS = -1
"""The mask key of the input column (masks are keyed by the stack index they follow)."""

LAYER_MODULES: dict[str, type[nn.Module]] = {
    "linear": nn.Linear,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
    "sine": nn.Sine,
    "dropout": nn.Dropout,
}
"""Each layer kind of the builder (experiment.LAYER_KINDS) and the engine's module for it."""
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


@dataclass(frozen=True)
class Column:
    """One neuron column of the network view: which layers it holds, its units and its maths."""

    index: int
    layers: tuple[int, ...]
    title: str
    units: int
    activation: str | None
    weight_key: str | None
    bias_key: str | None
    formula: str
    forward: tuple[str, ...]
    backward: tuple[str, ...]
    names: tuple[str, ...]

    @property
    def mask_key(self) -> int:
        """The stack index whose output are this column's units (INPUTS for the inputs)."""
        return self.layers[-1] if self.layers else INPUTS


@dataclass(frozen=True)
class HiddenSpace:
    """The data and the input grid as seen by two units (or two principal axes) of a column.

    ``points`` (n, 2) are the training points then the test points, ``labels`` (n,) their
    classes, ``is_test`` (n,) which are test points. ``grid`` (2, lines, m, 2) holds polylines:
    ``grid[0, i]`` the input line of constant x1 number i, ``grid[1, i]`` of constant x2, each
    sampled at m points and mapped into the space.
    """

    points: np.ndarray
    labels: np.ndarray
    is_test: np.ndarray
    grid: np.ndarray
    axis_labels: tuple[str, str]


def _sub(n: int) -> str:
    return str(n).translate(_SUBSCRIPTS)


def _unit_formula(index: int, kinds: Sequence[str]) -> str:
    """``h₂,ⱼ = ReLU(Σᵢ w·h₁,ᵢ + b)`` for column ``index`` made of layers of ``kinds``."""
    previous = "xᵢ" if index == 1 else f"h{_sub(index - 1)},ᵢ"
    if kinds[0] == "linear":
        text, rest = f"Σᵢ w·{previous} + b", kinds[1:]
    else:
        text, rest = previous.replace("ᵢ", "ⱼ"), kinds
    for kind in rest:
        if kind != "dropout":  # the identity when the view evaluates
            text = f"{LAYER_TITLES[kind]}({text})"
    return f"h{_sub(index)},ⱼ = {text}"


def columns(network: NetworkSpec, features: Sequence[str], out_width: int) -> list[Column]:
    """The neuron columns of a stack over the given input features (column 0 = the inputs)."""
    features = tuple(features)
    found = [
        Column(
            index=0,
            layers=(),
            title="Inputs",
            units=len(features),
            activation=None,
            weight_key=None,
            bias_key=None,
            formula="xᵢ = input feature i, standardised as the network sees it",
            forward=(),
            backward=(),
            names=features,
        )
    ]
    groups: list[list[int]] = []
    for i, layer in enumerate(network.layers):
        if layer.kind == "linear" or not groups:
            groups.append([i])
        else:
            groups[-1].append(i)
    shapes = network.shapes(len(features), out_width)
    for index, group in enumerate(groups, start=1):
        specs = [network.layers[i] for i in group]
        kinds = [s.kind for s in specs]
        parts = []
        for s, shape in zip(specs, (shapes[i] for i in group), strict=True):
            title = LAYER_TITLES[s.kind]
            if s.kind == "linear":
                title += f" {shape.out_width}"
            elif s.kind == "dropout":
                title += f" {s.p:g}" if s.p is not None else ""
            parts.append(title)
        maths = [minidl.formula(LAYER_MODULES[k]) for k in kinds]
        activations = [k for k in kinds if k not in ("linear", "dropout")]
        units = shapes[group[-1]].out_width
        linear = group[0] if kinds[0] == "linear" else None
        found.append(
            Column(
                index=index,
                layers=tuple(group),
                title=" + ".join(parts),
                units=units,
                activation=activations[-1] if activations else None,
                weight_key=f"{linear}.weight" if linear is not None else None,
                bias_key=f"{linear}.bias" if linear is not None else None,
                formula=_unit_formula(index, kinds),
                forward=tuple(f for f, _ in maths),
                backward=tuple(b for _, b in maths),
                names=tuple(f"h{index},{j + 1}" for j in range(units)),
            )
        )
    return found


def layer_outputs(network: nn.Sequential, x: Any, masks: Mapping[int, torch.Tensor]) -> list[Any]:
    """[the inputs, layer 0's output, layer 1's, ...] of ``network`` for ``x``, switched-off
    units held at zero.

    ``masks`` maps a stack index (INPUTS for the inputs) to a 0/1 vector multiplied into that
    layer's output, so a unit that is off is zero for every layer after it, in training too.
    """
    mask = masks.get(INPUTS)
    if mask is not None:
        x = x * mask
    outputs = [x]
    for i, layer in enumerate(network):
        x = layer(x)
        mask = masks.get(i)
        if mask is not None:
            x = x * mask
        outputs.append(x)
    return outputs


class MaskedNetwork(nn.Module):
    """A Sequential run with switched-off units held at zero; its parameters are the network's.

    Trains eagerly (the engine's fast step takes plain Sequentials only); the masks dict is
    shared with whoever switches units, so a change needs no new wrapper.
    """

    def __init__(self, network: nn.Sequential, masks: Mapping[int, torch.Tensor]) -> None:
        super().__init__()
        self.network = network
        self.masks = masks

    def forward(self, x: Any) -> Any:
        return layer_outputs(self.network, x, self.masks)[-1]


def principal_axes(values: np.ndarray, count: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(mean (d,), axes (count, d)): the first principal directions of the rows of ``values``.

    Each axis's sign is fixed so its largest component is positive (a live view would otherwise
    flip between snapshots); missing axes (fewer columns than ``count``) are zero.
    """
    values = np.asarray(values, dtype=np.float64)
    mean = values.mean(axis=0) if len(values) else np.zeros(values.shape[1])
    _, _, vt = np.linalg.svd(values - mean, full_matrices=False)
    axes = np.zeros((count, values.shape[1]))
    k = min(count, len(vt))
    axes[:k] = vt[:k]
    for axis in axes[:k]:
        if axis[np.argmax(np.abs(axis))] < 0:
            axis *= -1
    return mean, axes
