"""ONNX export: a minidl model as a real ONNX graph (opset 17) any ONNX runtime can run.

>>> minidl.onnx.export(model, "model.onnx", standardize=scaler, softmax=True)

The graph takes raw points (``x``, float32, shape (N, 2) when the model starts with
``nn.Features``) and gives the model's prediction (``prediction``, (N, outputs)). Each layer
becomes nodes a learner can read in a viewer such as Netron: Features is a Split of the point
into x1 and x2, one node per feature (Mul, Sin) and a Concat; standardisation a Sub and a Div;
Linear a Gemm whose weight and bias initializers keep the state_dict names (``2.weight``); the
activations their ONNX operators; Dropout an Identity (an exported model predicts, it does not
train); ``softmax=True`` (cross-entropy models) a final Softmax.

Adding a layer is one entry in ``EMITTERS``: its class and a function that gets the graph being
built, the layer's name and the layer, and the name of its input, adds the nodes and returns the
name of its output (``_unary("Sin")`` for a plain elementwise op).

The ``onnx`` package is needed only here and only when exporting (``pip install onnx``, or the
``onnx`` extra); minidl imports without it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from . import nn
from .export import (
    ExportError,
    Scaling,
    in_width,
    out_width,
    output_meaning,
    prepare,
    producer,
    with_scaling,
    write_file,
)
from .nn.module import Module

__all__ = ["export", "to_onnx", "EMITTERS", "OPSET", "ExportError"]

OPSET = 17
INPUT, OUTPUT = "x", "prediction"


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ExportError(
            "ONNX export needs the onnx package, which is not installed "
            "(pip install onnx, or pip install 'minidl-playground[onnx]')"
        ) from None
    return onnx


class Graph:
    """The ONNX graph being built: nodes, initializers (constants) and unique value names."""

    def __init__(self, onnx: Any) -> None:
        self.onnx = onnx
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._used: set[str] = {INPUT}

    def _fresh(self, name: str) -> str:
        candidate, i = name, 1
        while candidate in self._used:
            i += 1
            candidate = f"{name}_{i}"
        self._used.add(candidate)
        return candidate

    def constant(self, name: str, values: Any, dtype: type = np.float32) -> str:
        """Add an initializer (a weight, a mean; int64 for sizes) and return its name."""
        name = self._fresh(name)
        array = np.asarray(values, dtype=dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(
        self, op: str, inputs: list[str], name: str, outputs: int = 1, **attributes: Any
    ) -> Any:
        """Add one ``op`` node; its output is named ``name`` (with ``outputs=k``, k outputs
        ``name1`` … ``namek``, returned as a list)."""
        wanted = [name] if outputs == 1 else [f"{name}{i}" for i in range(1, outputs + 1)]
        names = [self._fresh(n) for n in wanted]
        node_name = self._fresh(f"{name}/{op}")
        self.nodes.append(
            self.onnx.helper.make_node(op, inputs, names, name=node_name, **attributes)
        )
        return names[0] if outputs == 1 else names


Emitter = Callable[[Graph, str, Any, str], str]


def _unary(op: str, **attributes: Any) -> Emitter:
    """An emitter of one elementwise ``op`` node with fixed attributes."""

    def emit(g: Graph, name: str, layer: Any, x: str) -> str:
        return g.node(op, [x], name, **attributes)

    return emit


def _linear(g: Graph, name: str, layer: nn.Linear, x: str) -> str:
    weight = g.constant(f"{name}.weight", layer.weight.data.detach().cpu().numpy())
    inputs = [x, weight]
    if layer.bias is not None:
        inputs.append(g.constant(f"{name}.bias", layer.bias.data.detach().cpu().numpy()))
    return g.node("Gemm", inputs, name, transB=1)  # x Wᵀ + b, W stored (out, in) as in torch


# one node (or a few) per feature of the point (x1, x2), both (N, 1) columns
FEATURE_NODES: dict[str, Callable[[Graph, str, str, str], str]] = {
    "x1": lambda g, n, x1, x2: x1,
    "x2": lambda g, n, x1, x2: x2,
    "x1^2": lambda g, n, x1, x2: g.node("Mul", [x1, x1], f"{n}.x1^2"),
    "x2^2": lambda g, n, x1, x2: g.node("Mul", [x2, x2], f"{n}.x2^2"),
    "x1*x2": lambda g, n, x1, x2: g.node("Mul", [x1, x2], f"{n}.x1*x2"),
    "sin(x1)": lambda g, n, x1, x2: g.node("Sin", [x1], f"{n}.sin(x1)"),
    "sin(x2)": lambda g, n, x1, x2: g.node("Sin", [x2], f"{n}.sin(x2)"),
}


def _features(g: Graph, name: str, layer: nn.Features, x: str) -> str:
    sizes = g.constant(f"{name}.split", [1, 1], np.int64)
    x1, x2 = g.node("Split", [x, sizes], f"{name}.x", outputs=2, axis=1)  # (N, 1) each
    columns = [FEATURE_NODES[f](g, name, x1, x2) for f in layer.features]
    if len(columns) == 1:
        return g.node("Identity", columns, f"{name}.features")
    return g.node("Concat", columns, f"{name}.features", axis=1)


def _gelu(g: Graph, name: str, layer: nn.GELU, x: str) -> str:
    # x · (1 + erf(x / √2)) / 2: opset 17 has Erf but no Gelu (that came with opset 20)
    scaled = g.node("Div", [x, g.constant(f"{name}.sqrt2", math.sqrt(2.0))], f"{name}.scaled")
    one = g.constant(f"{name}.one", 1.0)
    cdf = g.node("Add", [g.node("Erf", [scaled], f"{name}.erf"), one], f"{name}.cdf2")
    half = g.node("Mul", [x, g.constant(f"{name}.half", 0.5)], f"{name}.half_x")
    return g.node("Mul", [half, cdf], name)


def _silu(g: Graph, name: str, layer: nn.SiLU, x: str) -> str:
    return g.node("Mul", [x, g.node("Sigmoid", [x], f"{name}.sigmoid")], name)


def _softplus(g: Graph, name: str, layer: nn.Softplus, x: str) -> str:
    # ONNX's Softplus is log(1 + eˣ): scale by beta around it, and keep torch's linear branch
    beta = g.constant(f"{name}.beta", layer.beta)
    scaled = g.node("Mul", [x, beta], f"{name}.scaled")
    smooth = g.node("Div", [g.node("Softplus", [scaled], f"{name}.softplus"), beta],
                    f"{name}.smooth")
    linear = g.node("Greater", [scaled, g.constant(f"{name}.threshold", layer.threshold)],
                    f"{name}.linear")
    return g.node("Where", [linear, x, smooth], name)


def _softmax_along(op: str) -> Emitter:
    def emit(g: Graph, name: str, layer: Any, x: str) -> str:
        return g.node(op, [x], name, axis=layer.dim)

    return emit


EMITTERS: dict[type[Module], Emitter] = {
    nn.Features: _features,
    nn.Linear: _linear,
    nn.ReLU: _unary("Relu"),
    nn.LeakyReLU: lambda g, name, layer, x: g.node(
        "LeakyRelu", [x], name, alpha=layer.negative_slope
    ),
    nn.Tanh: _unary("Tanh"),
    nn.Sigmoid: _unary("Sigmoid"),
    nn.ELU: lambda g, name, layer, x: g.node("Elu", [x], name, alpha=layer.alpha),
    nn.GELU: _gelu,
    nn.SiLU: _silu,
    nn.Softplus: _softplus,
    nn.Sine: _unary("Sin"),
    nn.Softmax: _softmax_along("Softmax"),
    nn.LogSoftmax: _softmax_along("LogSoftmax"),
    nn.Dropout: _unary("Identity"),  # an exported model predicts: dropout is off
    nn.Identity: _unary("Identity"),
}


def _standardize(g: Graph, scaling: Scaling, x: str) -> str:
    mean = g.constant("standardize.mean", [scaling.mean])
    std = g.constant("standardize.std", [scaling.std])
    centred = g.node("Sub", [x, mean], "standardize.centred")
    return g.node("Div", [centred, std], "standardize")


def to_onnx(
    model: Module,
    *,
    standardize: Any = None,
    softmax: bool = False,
    metadata: dict[str, str] | None = None,
) -> Any:
    """The model as an ``onnx.ModelProto`` (opset 17), checked with ``onnx.checker``.

    ``standardize`` (a fitted ``minidl.data.Standardizer`` or a ``(mean, std)`` pair) scales
    the features, after a leading ``nn.Features`` layer or else at the input, as the model was
    trained. ``softmax=True`` ends the graph with a softmax over the outputs, for a model
    trained with cross-entropy on raw scores. ``metadata`` goes into the file's
    metadata_props. Raises ExportError naming a layer it cannot write.
    """
    chain, scaling = prepare(model, EMITTERS, "ONNX", standardize)
    onnx = _onnx()
    helper = onnx.helper
    g = Graph(onnx)
    x = INPUT
    for name, step in with_scaling(chain, scaling):
        if isinstance(step, Scaling):
            x = _standardize(g, step, x)
        else:
            x = EMITTERS[type(step)](g, name, step, x)
    if softmax:
        x = g.node("Softmax", [x], "softmax", axis=-1)
    # the graph's output is a value of its own, whatever the last node was
    g.nodes.append(helper.make_node("Identity", [x], [OUTPUT], name="prediction/Identity"))
    width_in, width_out = in_width(chain), out_width(chain)
    graph = helper.make_graph(
        g.nodes,
        "minidl",
        [helper.make_tensor_value_info(INPUT, onnx.TensorProto.FLOAT, ["N", width_in or "D"])],
        [
            helper.make_tensor_value_info(
                OUTPUT, onnx.TensorProto.FLOAT, ["N", width_out or width_in or "D"]
            )
        ],
        initializer=g.initializers,
        doc_string=f"x: raw input points (N, {width_in or 'D'}); prediction: "
        f"{output_meaning(chain, softmax)}",
    )
    opset = helper.make_opsetid("", OPSET)
    proto = helper.make_model(
        graph,
        opset_imports=[opset],
        ir_version=helper.find_min_ir_version_for([opset]),
        producer_name="minidl",
        producer_version=producer().split()[-1],
    )
    if metadata:
        helper.set_model_props(proto, {str(k): str(v) for k, v in metadata.items()})
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export(
    model: Module,
    path: str | os.PathLike,
    *,
    standardize: Any = None,
    softmax: bool = False,
    metadata: dict[str, str] | None = None,
) -> None:
    """Write ``to_onnx(model, ...)`` to ``path``, atomically (the old file stays on failure).

    Raises ExportError for a model it cannot write, ModelFileError when the file cannot be.
    """
    proto = to_onnx(model, standardize=standardize, softmax=softmax, metadata=metadata)
    write_file(path, proto.SerializeToString())
