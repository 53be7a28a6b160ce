"""Optimisers with torch.optim's exact update rules: SGD (momentum, Nesterov) and Adam.

As in torch, hyperparameters live in ``param_groups`` (a list of dicts), so the learning rate can
change between steps: ``opt.param_groups[0]["lr"] = 0.01``.

Regularisation: ``weight_decay`` is torch's L2 (added to the gradient); ``l1`` is L1 the way
TensorFlow Playground applies it (``Optimizer._l1_step``). Playground regularises the weights
only, never the biases: ``regularized(model, kind, rate)`` makes the parameter groups for that.

For the parameters of M stacked models (``minidl.nn.stack``: each parameter's first axis is the
model), a hyperparameter may also be a list of M values, one per model:
``SGD(stacked.parameters(), lr=[0.01, 0.1, 1.0])``. Model m's slice is then updated by the same
rule with its own values, exactly as if it were trained alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

from .nn.module import _changed
from .tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam", "regularized", "REGULARIZATIONS"]

REGULARIZATIONS = ("none", "l1", "l2")
"""The regularisation kinds ``regularized`` takes (TF Playground's None, L1, L2)."""

Number = int | float


def _values(value: Any) -> list[float]:
    """A hyperparameter's values: [value] for a number, the list for one value per model."""
    if isinstance(value, torch.Tensor):
        return value.reshape(-1).tolist()
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def per_model(group: dict[str, Any], key: str) -> bool:
    """Whether the group gives ``key`` one value per stacked model (a list) instead of a number."""
    return isinstance(group[key], (list, tuple, torch.Tensor))


def _for_models(value: Any, d: torch.Tensor, key: str) -> Any:
    """A hyperparameter as an operand for parameter ``d``: a number as it is; one value per
    model as a (M, 1, …, 1) tensor, which scales each model's slice of d by its own value."""
    if not isinstance(value, (list, tuple, torch.Tensor)):
        return value
    t = torch.as_tensor(value, dtype=d.dtype)
    if d.dim() == 0 or t.numel() != d.shape[0]:
        raise ValueError(
            f"{key} gives {t.numel()} values (one per model) but a parameter of shape "
            f"{tuple(d.shape)} stacks {d.shape[0] if d.dim() else 0} models"
        )
    return t.reshape(-1, *([1] * (d.dim() - 1)))


class Optimizer:
    """Base class: holds parameter groups and per-parameter state; subclasses define step()."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params must be an iterable of Tensors or of dicts, e.g. model.parameters(), "
                "not a single Tensor"
            )
        groups = list(params)
        if not groups:
            raise ValueError(
                f"{type(self).__name__} got an empty parameter list: the model has no "
                "parameters to optimise (did you pass model.parameters() of the right model?)"
            )
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (defaults fill the rest)."""
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer parameters must be minidl Tensors, got {type(p)}")
            if not p.requires_grad:
                raise ValueError("optimizing a tensor that does not require gradients")
        if not params:
            raise ValueError(f"{type(self).__name__} got a parameter group with no parameters")
        if len({id(p) for p in params}) < len(params):
            raise ValueError("a parameter group lists the same parameter more than once")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        full = {**self.defaults, **group, "params": params}
        self._validate(full)
        self.param_groups.append(full)
        _changed()  # a compiled TrainStep knows which parameters the optimiser holds

    @staticmethod
    def _validate(group: dict[str, Any]) -> None:
        for lr in _values(group["lr"]):
            if not isinstance(lr, Number) or not math.isfinite(lr) or lr < 0:
                raise ValueError(f"invalid learning rate {lr!r}: it must be a finite number >= 0")
        for key in ("weight_decay", "l1"):
            for value in _values(group.get(key, 0)):
                if not isinstance(value, Number) or not value >= 0:
                    raise ValueError(f"invalid {key} {value!r}: must be >= 0")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter (set them to None, as torch does by default)."""
        for group in self.param_groups:
            if set_to_none:  # every step of every loop: the plainest loop
                for p in group["params"]:
                    p.grad = None
                continue
            for p in group["params"]:
                if p.grad is not None:
                    p.grad = torch.zeros_like(p.data)

    def step(self) -> None:
        """Update every parameter that has a gradient."""
        for group in self.param_groups:
            self._validate(group)
            # the parameters with a gradient, their data and gradients, in one pass
            params, data, grads = [], [], []
            for p in group["params"]:
                g = p.grad
                if g is not None:
                    params.append(p)
                    data.append(p.data)
                    grads.append(g)
            if params:
                self._apply(group, params, data, grads)

    def _apply(self, group: dict[str, Any], params: list, data: list, grads: list) -> None:
        """One group's update: the optimiser's rule, then the L1 step if the group has one."""
        l1 = group.get("l1", 0)
        if l1 == 0 if isinstance(l1, Number) else not any(_values(l1)):
            self._update(group, params, data, grads)  # the plain rule, untouched
            return
        before = [d.clone() for d in data]
        self._update(group, params, data, grads)
        self._l1_step(group, params, data, before)

    def _l1_step(self, group: dict[str, Any], params: list, data: list, before: list) -> None:
        """L1 regularisation as TF Playground's ``updateWeights`` applies it (src/nn.ts).

        After the gradient update w₀ → w₁, each weight takes a second step towards zero,
        w₂ = w₁ - lr · l1 · sign(w₀) (sign of the weight before the update; 0 at 0). Where
        that step carries the weight across zero (w₁ · w₂ < 0) the weight is set to exactly 0
        and, as Playground marks the link "dead", it stays 0 for the rest of training: a dead
        weight is put back to 0 after every later update. (Playground's L2 is torch's
        ``weight_decay`` on the weights; its optimiser is plain SGD, and with momentum or Adam
        here the L1 step follows their update in the same way.)
        """
        for p, d, w0 in zip(params, data, before, strict=True):
            step = _for_models(group["lr"], d, "lr") * _for_models(group["l1"], d, "l1")
            w2 = d - step * torch.sign(w0)
            state = self.state.setdefault(p, {})
            dead = state.get("l1_dead")
            crossed = d * w2 < 0
            dead = crossed if dead is None else dead | crossed
            state["l1_dead"] = dead
            d.copy_(w2.masked_fill_(dead, 0.0))

    def _update(
        self, group: dict[str, Any], params: list, data: list, grads: list
    ) -> None:  # pragma: no cover
        """The rule: update ``data`` (each parameter's tensor, in place) from ``grads``.

        ``params``, ``data`` and ``grads`` line up; every parameter updates independently of
        the others, so their order does not matter. (minidl.fast.TrainStep calls it with the
        lists it already holds.)
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


class SGD(Optimizer):
    """Stochastic gradient descent, torch.optim.SGD's rule exactly.

    g ← ∇p + weight_decay·p;  with momentum μ:  b ← μ·b + (1 - dampening)·g  (b = g at the first
    step), then g ← g + μ·b (Nesterov) or g ← b;  finally p ← p - lr·g.
    ``l1`` > 0 adds TF Playground's L1 step after it (``Optimizer._l1_step``).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        l1: float = 0.0,
    ) -> None:
        if any(m < 0 for m in _values(momentum)):
            raise ValueError(f"invalid momentum {momentum!r}: must be >= 0")
        if nesterov and (
            any(m <= 0 for m in _values(momentum)) or any(d != 0 for d in _values(dampening))
        ):
            raise ValueError("Nesterov momentum requires a momentum > 0 and zero dampening")
        defaults = dict(
            lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
            nesterov=nesterov, l1=l1,
        )
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any], params: list, data: list, grads: list) -> None:
        if any(per_model(group, k) for k in ("lr", "momentum", "dampening", "weight_decay")):
            self._update_per_model(group, params, data, grads)
            return
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        weight_decay, nesterov = group["weight_decay"], group["nesterov"]
        # torch's _foreach_ ops apply one formula to a list of tensors in one call (the loop
        # runs in C++): the same arithmetic as a Python loop of add_, without its cost
        if weight_decay != 0:
            grads = torch._foreach_add(grads, data, alpha=weight_decay)
        if momentum != 0:
            buffers = []
            for p, g in zip(params, grads, strict=True):
                state = self.state.setdefault(p, {})
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = g.clone()
                else:
                    buf.mul_(momentum).add_(g, alpha=1 - dampening)
                buffers.append(buf)
            grads = torch._foreach_add(grads, buffers, alpha=momentum) if nesterov else buffers
        torch._foreach_add_(data, grads, alpha=-lr)

    def _update_per_model(
        self, group: dict[str, Any], params: list, data: list, grads: list
    ) -> None:
        """The same rule for stacked parameters, with one value per model (a (M, 1, …) tensor
        multiplies each model's slice by its own) where the group gives a list."""
        uses_momentum = any(m != 0 for m in _values(group["momentum"]))
        for p, d, g in zip(params, data, grads, strict=True):
            lr, momentum, dampening, weight_decay = (
                _for_models(group[k], d, k) for k in ("lr", "momentum", "dampening", "weight_decay")
            )
            g = g + weight_decay * d
            if uses_momentum:
                # a model whose momentum is 0 takes g itself, as SGD without momentum does
                dampening = dampening * (torch.as_tensor(momentum) != 0)
                state = self.state.setdefault(p, {})
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = g.clone()
                else:
                    buf.mul_(momentum).add_((1 - dampening) * g)
                g = g + momentum * buf if group["nesterov"] else buf
            d.sub_(lr * g)


class Adam(Optimizer):
    """Adam, torch.optim.Adam's rule exactly (L2 weight decay added to the gradient).

    m ← β₁m + (1-β₁)g;  v ← β₂v + (1-β₂)g²;  p ← p - lr/(1-β₁ᵗ) · m / (√v/√(1-β₂ᵗ) + eps).
    ``l1`` > 0 adds TF Playground's L1 step after it (``Optimizer._l1_step``).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        l1: float = 0.0,
    ) -> None:
        if not all(0.0 <= b < 1.0 for b in (*_values(betas[0]), *_values(betas[1]))):
            raise ValueError(f"invalid betas {betas!r}: each must be in [0, 1)")
        if any(e < 0 for e in _values(eps)):
            raise ValueError(f"invalid eps {eps!r}: must be >= 0")
        super().__init__(
            params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, l1=l1)
        )

    def _update(self, group: dict[str, Any], params: list, data: list, grads: list) -> None:
        beta1, beta2 = group["betas"]
        if any(per_model(group, k) for k in ("lr", "eps", "weight_decay")) or any(
            isinstance(b, (list, tuple, torch.Tensor)) for b in (beta1, beta2)
        ):
            self._update_per_model(group, params, data, grads)
            return
        lr = group["lr"]
        eps, weight_decay = group["eps"], group["weight_decay"]
        for p, d, g in zip(params, data, grads, strict=True):
            state = self._step_state(p, d)
            t = state["step"]
            if weight_decay != 0:
                g = g.add(d, alpha=weight_decay)
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m.lerp_(g, 1 - beta1)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            step_size = lr / (1 - beta1**t)
            denom = (v.sqrt() / math.sqrt(1 - beta2**t)).add_(eps)
            d.addcdiv_(m, denom, value=-step_size)

    def _step_state(self, p: Tensor, d: torch.Tensor) -> dict[str, Any]:
        """Parameter p's moments and step count, counted up for this step."""
        state = self.state.get(p)
        if state is None:
            state = self.state[p] = {
                "step": 0, "exp_avg": torch.zeros_like(d), "exp_avg_sq": torch.zeros_like(d),
            }
        state["step"] += 1
        return state

    def _update_per_model(
        self, group: dict[str, Any], params: list, data: list, grads: list
    ) -> None:
        """The same rule for stacked parameters, with one value per model where the group
        gives a list (``betas`` as a pair whose entries may each be such a list)."""
        for p, d, g in zip(params, data, grads, strict=True):
            lr, eps, weight_decay = (
                _for_models(group[k], d, k) for k in ("lr", "eps", "weight_decay")
            )
            beta1, beta2 = (_for_models(b, d, "betas") for b in group["betas"])
            state = self._step_state(p, d)
            t = state["step"]
            g = g + weight_decay * d
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m.lerp_(g, torch.as_tensor(1 - beta1, dtype=d.dtype))
            v.mul_(beta2).add_((1 - beta2) * g * g)
            step_size = lr / (1 - beta1**t)
            denom = v.sqrt() / torch.sqrt(torch.as_tensor(1 - beta2**t, dtype=d.dtype)) + eps
            d.sub_(step_size * m / denom)


def regularized(model: Any, kind: str = "none", rate: float = 0.0) -> list[dict[str, Any]]:
    """Parameter groups that regularise a model's weights the way TF Playground does.

    ``kind`` is "none", "l1" or "l2"; ``rate`` is Playground's regularisation rate. The
    weights (every parameter whose name ends in "weight") get ``l1=rate`` or
    ``weight_decay=rate``; the biases get neither, as in Playground. Pass the result to an
    optimiser: ``SGD(regularized(model, "l1", 0.01), lr=0.03)``; a group's rate can change
    between steps (``opt.param_groups[0]["l1"] = 0.003``).
    """
    if kind not in REGULARIZATIONS:
        raise ValueError(f"regularisation must be one of {REGULARIZATIONS}, got {kind!r}")
    if isinstance(rate, bool) or not isinstance(rate, Number) or not rate >= 0:
        raise ValueError(f"invalid regularisation rate {rate!r}: must be a number >= 0")
    weights, biases = [], []
    for name, p in model.named_parameters():
        (weights if name.rsplit(".", 1)[-1] == "weight" else biases).append(p)
    key = {"none": None, "l1": "l1", "l2": "weight_decay"}[kind]
    groups = [{"params": weights, **({key: rate} if key else {})}, {"params": biases}]
    return [group for group in groups if group["params"]]
