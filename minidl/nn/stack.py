"""Many models as one: ``stack(models)`` trains M networks of one architecture in one step.

For networks as small as the seeds', a training step costs the dispatch of a few dozen tiny torch
calls, not arithmetic. M networks of the same shape, their weights stacked along a leading
*model axis* (each Linear's weight (M, out, in)), run as one network whose every Linear is a
batch of M matrix products (``ops.BatchedLinear``): M models for little more than the price of
one. Nothing mixes the models: model m's output depends only on its own slice of each weight,
and a loss that reduces per model (``PerModelLoss``) gives each slice exactly its own gradient,
so M models trained stacked reach the weights each reaches trained alone on the same batches.

    models = [nn.Sequential(nn.Linear(2, 25), nn.ReLU(), nn.Linear(25, 1)) for _ in range(8)]
    stacked = nn.stack(models)              # weights (8, 25, 2), (8, 25), (8, 1, 25), (8, 1)
    opt = optim.SGD(stacked.parameters(), lr=[0.001, 0.003, ..., 1.0])   # one rate per model
    histories = fit(stacked, nn.MSELoss(), opt, (x, y), epochs=100)      # one History each
    trained = stacked.unstack()             # 8 ordinary Sequentials with the trained weights
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import torch

from .. import functional as F
from .. import ops
from ..tensor import Parameter, Tensor
from . import layers as L
from .losses import _Loss
from .module import Module, ShapeError

__all__ = ["stack", "Stacked", "StackedLinear", "PerModelFeatures", "PerModelLoss"]

# layers without parameters that act on each row (or each element) alone: they work unchanged
# on a (M, N, features) batch of M models
_ROWWISE = (L.ReLU, L.LeakyReLU, L.Tanh, L.Sigmoid, L.ELU, L.GELU, L.SiLU, L.Softplus, L.Sine,
            L.Dropout, L.Identity, L.Softmax, L.LogSoftmax)


class StackedLinear(Module):
    """M Linear layers of one shape as one layer: weight (M, out, in), bias (M, out)."""

    op = ops.BatchedLinear  # the op its forward records: its maths (Function.formula)

    def __init__(self, linears: list[L.Linear]) -> None:
        super().__init__()
        first = linears[0]
        self.in_features, self.out_features = first.in_features, first.out_features
        self.models = len(linears)
        self.weight = Parameter(torch.stack([lin.weight.data for lin in linears]))
        if first.bias is not None:
            self.bias = Parameter(torch.stack([lin.bias.data for lin in linears]))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Any) -> Tensor:
        shape = tuple((x.data if isinstance(x, Tensor) else x).shape)
        shared = len(shape) == 2 and shape[1] == self.in_features
        own = len(shape) == 3 and shape[0] == self.models and shape[2] == self.in_features
        if not (shared or own):
            raise ShapeError(
                f"{self!r} expects input of shape (N, {self.in_features}) shared by its "
                f"{self.models} models or ({self.models}, N, {self.in_features}) but got {shape}"
            )
        return F.batched_linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"models={self.models}, in_features={self.in_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )


class Stacked(L.Sequential):
    """M models of one architecture trained as one; built by ``stack(models)``.

    Forward takes (N, in) points shared by all models or (M, N, in), one batch per model, and
    returns (M, N, out). Parameters carry the model axis first. ``unstack()`` gives the M models
    back as ordinary modules with the stacked weights.
    """

    def __init__(self, models: list[Module]) -> None:
        _check_same_architecture(models)
        layers: list[Module] = []
        for same in zip(*(list(m) for m in models), strict=True):
            layer = same[0]
            if isinstance(layer, L.Linear):
                layer = StackedLinear(list(same))
            elif isinstance(layer, L.Features):
                layer = PerModelFeatures(layer.features)
            else:
                layer = copy.deepcopy(layer)
                if isinstance(layer, (L.Softmax, L.LogSoftmax)):
                    layer.dim = -1  # Softmax(dim=1) of (N, C) rows: the last dim of (M, N, C)
            layers.append(layer)
        super().__init__(*layers)
        self.models = len(models)
        # a fresh copy of the architecture, to make the unstacked models from (not a submodule)
        object.__setattr__(self, "_template", copy.deepcopy(models[0]))

    def unstack(self) -> list[Module]:
        """The M models as ordinary modules, each with its own slice of the stacked weights."""
        state = self.state_dict()
        out = []
        for m in range(self.models):
            model = copy.deepcopy(self._template)
            model.load_state_dict(_model_slice(state, m))
            model.train(self.training)
            out.append(model)
        return out

    def model_state_dict(self, m: int) -> dict[str, torch.Tensor]:
        """Model m's weights with an ordinary model's keys and shapes (copies)."""
        if not 0 <= m < self.models:
            raise IndexError(f"model index {m} out of range for {self.models} stacked models")
        return _model_slice(self.state_dict(), m)

    def extra_repr(self) -> str:
        return f"models={self.models}"


def _model_slice(state: dict[str, torch.Tensor], m: int) -> dict[str, torch.Tensor]:
    """Model m's entries of a stack's state dict (copies, an ordinary model's shapes)."""
    return {k: v[m].clone() for k, v in state.items()}


def stack(models: Iterable[Module]) -> Stacked:
    """M models of one architecture as one Stacked module (their current weights, copied).

    The models must be ``Sequential``s of the same layers: Linear (same sizes and bias),
    activations, Dropout (same p), Identity, Features (same features). A ValueError names the
    first model and layer that differ.
    """
    return Stacked(list(models))


def _check_same_architecture(models: list[Module]) -> None:
    if not models:
        raise ValueError("stack: give at least one model")
    for i, model in enumerate(models):
        if not isinstance(model, L.Sequential):
            raise ValueError(f"stack: model {i} is a {type(model).__name__}, not a Sequential")
    first = list(models[0])
    for j, layer in enumerate(first):
        if not isinstance(layer, (L.Linear, L.Features, *_ROWWISE)):
            raise ValueError(
                f"stack: layer {j} ({type(layer).__name__}) cannot be stacked; stack takes "
                "Linear, Features, Dropout, Identity and the activation layers"
            )
        if isinstance(layer, (L.Softmax, L.LogSoftmax)) and layer.dim not in (-1, 1):
            raise ValueError(f"stack: layer {j} ({layer!r}) must act on the last dimension")
    for i, model in enumerate(models[1:], start=1):
        layers = list(model)
        if len(layers) != len(first):
            raise ValueError(
                f"stack: model {i} has {len(layers)} layers but model 0 has {len(first)}"
            )
        for j, (a, b) in enumerate(zip(first, layers, strict=True)):
            if type(a) is not type(b) or _config(a) != _config(b):
                raise ValueError(f"stack: layer {j} of model {i} is {b!r} but model 0's is {a!r}")
            for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
                if p.data.dtype != q.data.dtype:
                    raise ValueError(
                        f"stack: layer {j}'s {name} is {q.data.dtype} in model {i} but "
                        f"{p.data.dtype} in model 0"
                    )


def _config(layer: Module) -> Any:
    config = layer.config() if hasattr(layer, "config") else {}
    return {k: v for k, v in config.items() if k != "dim"}


class PerModelFeatures(L.Features):
    """Features of a shared (N, 2) batch as they are; of a (M, N, 2) one, row by row."""

    def forward(self, x: Any) -> Tensor:
        data = x.data if isinstance(x, Tensor) else x
        if data.dim() != 3:
            return super().forward(data)
        rows = super().forward(data.reshape(-1, data.shape[-1])).data
        return Tensor(rows.reshape(*data.shape[:2], -1))


class PerModelLoss(Module):
    """A loss taken per model of a stack: (M, N, ...) outputs -> the (M,) losses, one each.

    Model m's entry is ``loss(output[m], target)`` (or ``target[m]`` for a (M, N, ...) target),
    reduced over its own batch as the loss says ("mean" or "sum"); ``losses.sum().backward()``
    then gives every model exactly the gradient it would get trained alone. Written on the core
    ops: the loss with reduction "none", then a mean or sum over each model's elements.
    """

    def __init__(self, loss: _Loss, models: int) -> None:
        super().__init__()
        if not isinstance(loss, _Loss):
            raise TypeError(f"PerModelLoss takes a minidl loss module, got {type(loss).__name__}")
        if loss.reduction == "none":
            raise ValueError("PerModelLoss: the loss must reduce ('mean' or 'sum') per model")
        self.loss = copy.deepcopy(loss)
        self.loss.reduction = "none"
        self.reduction = loss.reduction
        self.models = models

    def forward(self, output: Any, target: Any) -> Tensor:
        out = output if isinstance(output, Tensor) else Tensor(output)
        t = target.data if isinstance(target, Tensor) else target
        m = self.models
        if out.data.dim() < 2 or out.data.shape[0] != m:
            raise ShapeError(
                f"PerModelLoss expects outputs of shape ({m}, N, ...) but got {tuple(out.shape)}"
            )
        if self.loss.op is ops.CrossEntropyLoss:
            # (M, N, C) scores and (N,) or (M, N) classes: M·N rows of one cross-entropy
            classes = out.data.shape[-1]
            t = t.expand(m, *t.shape) if t.dim() == out.data.dim() - 2 else t
            per_element = self.loss(out.reshape(-1, classes), t.reshape(-1, *t.shape[2:]))
        else:
            t = t.expand(out.data.shape) if t.dim() == out.data.dim() - 1 else t
            per_element = self.loss(out, t)
        per_model = per_element.reshape(m, -1)
        return per_model.mean(1) if self.reduction == "mean" else per_model.sum(1)

    def extra_repr(self) -> str:
        return f"{type(self.loss).__name__}, models={self.models}, reduction={self.reduction!r}"
