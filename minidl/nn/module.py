"""Module: the base of every layer and model, with PyTorch's habits.

Assigning a Parameter or a Module to an attribute registers it, so a custom model needs no
bookkeeping; ``named_parameters()`` yields dotted names (``"0.weight"``, ``"b.c.bias"``) and
``state_dict()`` uses them with torch's layouts.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import torch

from ..tensor import Parameter, ShapeError, Tensor

__all__ = ["Module", "ShapeError", "StateDictError"]


class StateDictError(KeyError, RuntimeError):
    """A state dict that does not fit the model (missing, unexpected or misshapen entries).

    Both a KeyError and a RuntimeError, so code written for torch's RuntimeError catches it too.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


# how many times a parameter or submodule of any module has been assigned, replaced or removed,
# or an optimiser has taken a group of parameters: a compiled TrainStep, built from a model and
# an optimiser, stays current while this is unchanged
_generation = 0


def _changed() -> None:
    global _generation
    _generation += 1


class Module:
    """Base class for layers and models; subclasses define ``forward``."""

    training: bool
    op: Any = None
    """The Function a layer's forward records (its maths: ``op.formula()``); None for a model."""

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration ----------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if params is None:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() (call super().__init__() first)"
            )
        modules = self.__dict__["_modules"]
        if isinstance(value, Parameter):
            modules.pop(name, None)
            self.__dict__.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            self.__dict__.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to parameter {name!r}")
            params[name] = None
        elif name in modules and value is None:
            modules[name] = None
        else:
            object.__setattr__(self, name, value)
            return
        _changed()

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        if "_parameters" in d and name in d["_parameters"]:
            return d["_parameters"][name]
        if "_modules" in d and name in d["_modules"]:
            return d["_modules"][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)
            return
        _changed()

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register a parameter (or None, for an absent optional one such as bias=False)."""
        self._parameters[name] = param
        _changed()

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a submodule under ``name``."""
        self._modules[name] = module
        _changed()

    # -- calling ---------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -- traversal -------------------------------------------------------------------------
    def named_modules(
        self, prefix: str = "", remove_duplicate: bool = True, _memo: set | None = None
    ) -> Iterator[tuple[str, Module]]:
        """This module and every submodule, with dotted names ("" for this one).

        A module registered under two names is listed once, as torch does, unless
        ``remove_duplicate=False`` (what state_dict uses: it keeps every name).
        """
        if remove_duplicate:
            _memo = set() if _memo is None else _memo
            if self in _memo:
                return
            _memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(
                    f"{prefix}.{name}" if prefix else name, remove_duplicate, _memo
                )

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted name, each once, in registration order."""
        seen: set[int] = set()
        for mod_name, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def num_parameters(self) -> int:
        """Total number of learnable values."""
        return sum(p.data.numel() for p in self.parameters())

    # -- modes and gradients ---------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active); ``train(False)`` is ``eval()``."""
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = torch.zeros_like(p.data)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    # -- dtype -----------------------------------------------------------------------------
    def to(self, dtype: torch.dtype) -> Module:
        """Convert every parameter (and gradient) to ``dtype`` in place; returns self."""
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"Module.to() expects a floating-point torch.dtype, got {dtype!r}")
        for p in self.parameters():
            p.data = p.data.to(dtype)
            if p.grad is not None:
                p.grad = p.grad.to(dtype)
        return self

    def double(self) -> Module:
        return self.to(torch.float64)

    def float(self) -> Module:  # noqa: A003 - torch's name
        return self.to(torch.float32)

    # -- state -----------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, torch.Tensor]:
        """Parameters by dotted name, as torch tensors with torch's layouts (shared, not copied)."""
        out: OrderedDict[str, torch.Tensor] = OrderedDict()
        for mod_name, module in self.named_modules(remove_duplicate=False):
            for name, p in module._parameters.items():
                if p is not None:
                    out[f"{mod_name}.{name}" if mod_name else name] = p.data
        return out

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> tuple[list, list]:
        """Copy values into the parameters by name; returns (missing_keys, unexpected_keys).

        With ``strict`` a missing or unexpected key raises; a shape mismatch always raises.
        """
        own = dict(self.named_parameters_all())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and missing:
            errors.append("missing keys: " + ", ".join(repr(k) for k in missing))
        if strict and unexpected:
            errors.append("unexpected keys: " + ", ".join(repr(k) for k in unexpected))
        for key, p in own.items():
            if key in state_dict:
                value = state_dict[key]
                value = value.data if isinstance(value, Tensor) else torch.as_tensor(value)
                if tuple(value.shape) != tuple(p.data.shape):
                    errors.append(
                        f"{key!r} has shape {tuple(value.shape)} in the state dict but "
                        f"{tuple(p.data.shape)} in the model"
                    )
        if errors:
            raise StateDictError(
                f"error loading state dict into {type(self).__name__}: " + "; ".join(errors)
            )
        for key, p in own.items():
            if key in state_dict:
                value = state_dict[key]
                value = value.data if isinstance(value, Tensor) else torch.as_tensor(value)
                with torch.no_grad():
                    p.data.copy_(value.to(p.data.dtype))
        return missing, unexpected

    def named_parameters_all(self) -> Iterator[tuple[str, Parameter]]:
        """Like named_parameters but a shared parameter appears under every name."""
        for mod_name, module in self.named_modules(remove_duplicate=False):
            for name, p in module._parameters.items():
                if p is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), p

    # -- architecture (for model files) ---------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this layer (its weights aside); {} if none."""
        return {}

    # -- printing --------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The part between the parentheses in repr (e.g. ``in_features=2, ...``): the
        layer's ``config()`` as keyword arguments, unless a layer says otherwise."""
        return ", ".join(f"{key}={value!r}" for key, value in self.config().items())

    def __repr__(self) -> str:
        lines = []
        for name, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n" + "\n".join(lines) + "\n)"
