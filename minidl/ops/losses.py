"""Losses, each one node from (output, target) to the loss: MSE, L1, Huber, BCE, cross-entropy.

A loss reduces per-element errors with ``reduction`` = "mean" | "sum" | "none" (torch's), so its
backward chains the reduction's factor (1/n for the mean) into the per-element derivative. Each
loss has a ``check`` that raises a clear ValueError for a reduction or target it can't take.
"""

from __future__ import annotations

import torch

from ..tensor import Function

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: str) -> None:
    """Raise a ValueError unless ``reduction`` is one of REDUCTIONS."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def check_same_shape(name: str, x: torch.Tensor, target: torch.Tensor) -> None:
    """Raise a ValueError naming the loss and both shapes unless they match."""
    if x.shape != target.shape:
        xs, ts = tuple(x.shape), tuple(target.shape)
        raise ValueError(
            f"{name}: the output has shape {xs} but the target has shape {ts}; they must match "
            f"(a (N, 1) output needs a (N, 1) target, not (N,))"
        )


def _reduce(per_element: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return per_element.mean()
    if reduction == "sum":
        return per_element.sum()
    return per_element


def _reduce_grad(g: torch.Tensor, local: torch.Tensor, reduction: str, n: int) -> torch.Tensor:
    """Chain the loss's reduction into the per-element derivative ``local``: the mean of n
    elements passes g / n to each, the sum g, "none" each element its own g."""
    return local * (g / n) if reduction == "mean" else local * g


class MSELoss(Function):
    """L = reduce((x - t)²);  dx = 2 (x - t) · g  (/ n for the mean), dt = -dx."""

    @staticmethod
    def check(x: torch.Tensor, target: torch.Tensor, reduction: str) -> None:
        """Raise a ValueError naming the problem unless the arguments suit this loss."""
        check_reduction(reduction)
        check_same_shape("MSELoss", x, target)

    @staticmethod
    def forward(ctx, x, target, reduction="mean"):
        diff = x - target
        ctx.save(diff)
        ctx.reduction = reduction
        return _reduce(diff * diff, reduction)

    @staticmethod
    def backward(ctx, g):
        (diff,) = ctx.saved
        n = diff.numel() if ctx.reduction == "mean" else 1
        gx = diff * (g * (2 / n))  # 2 (x - t) · g / n, the scalars multiplied first
        return gx, (-gx if ctx.needs_input_grad[1] else None)


class L1Loss(Function):
    """L = reduce(|x - t|);  dx = sign(x - t) · g  (/ n for the mean; 0 where x = t)."""

    @staticmethod
    def check(x: torch.Tensor, target: torch.Tensor, reduction: str) -> None:
        """Raise a ValueError naming the problem unless the arguments suit this loss."""
        check_reduction(reduction)
        check_same_shape("L1Loss", x, target)

    @staticmethod
    def forward(ctx, x, target, reduction="mean"):
        diff = x - target
        ctx.save(diff)
        ctx.reduction = reduction
        return _reduce(torch.abs(diff), reduction)

    @staticmethod
    def backward(ctx, g):
        (diff,) = ctx.saved
        gx = _reduce_grad(g, torch.sign(diff), ctx.reduction, diff.numel())
        return gx, (-gx if ctx.needs_input_grad[1] else None)


class HuberLoss(Function):
    """L = reduce(½(x - t)² where |x - t| < δ, else δ(|x - t| - ½δ));  dx = clamp(x - t, -δ, δ) · g
    (/ n for the mean), dt = -dx.

    torch's rule (δ = ``delta``, default 1): squared error near the target, absolute error
    (scaled by δ) beyond δ, joined smoothly, so one outlier pulls with at most δ.
    """

    @staticmethod
    def check(x: torch.Tensor, target: torch.Tensor, reduction: str, delta: float = 1.0) -> None:
        """Raise a ValueError naming the problem unless the arguments suit this loss."""
        check_reduction(reduction)
        check_same_shape("HuberLoss", x, target)
        if not delta > 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta!r}")

    @staticmethod
    def forward(ctx, x, target, reduction="mean", delta=1.0):
        diff = x - target
        ctx.save(diff)
        ctx.reduction, ctx.delta = reduction, delta
        z = torch.abs(diff)
        per_element = torch.where(z < delta, 0.5 * diff * diff, delta * (z - 0.5 * delta))
        return _reduce(per_element, reduction)

    @staticmethod
    def backward(ctx, g):
        (diff,) = ctx.saved
        local = torch.clamp(diff, -ctx.delta, ctx.delta)
        gx = _reduce_grad(g, local, ctx.reduction, diff.numel())
        return gx, (-gx if ctx.needs_input_grad[1] else None)


# torch's BCE backward clamps p(1-p) at 1e-12 as a float32, also in float64 (p at exactly 0 or 1)
_BCE_EPSILON = float(torch.tensor(1e-12, dtype=torch.float32))


class BCELoss(Function):
    """L = -reduce(t·log p + (1-t)·log(1-p)), logs clamped at -100 as torch does;
    dp = (p - t) / max(p (1 - p), 1e-12) · g  (torch's formula, finite at p = 0 or 1).
    """

    @staticmethod
    def check(p: torch.Tensor, target: torch.Tensor, reduction: str) -> None:
        """Raise a ValueError naming the problem unless the arguments suit this loss."""
        check_reduction(reduction)
        check_same_shape("BCELoss", p, target)
        if p.numel() and (bool((p < 0).any()) or bool((p > 1).any())):
            raise ValueError(
                "BCELoss: the inputs must be probabilities in [0, 1] (end the network with a "
                f"Sigmoid); got values from {p.min().item():.4g} to {p.max().item():.4g}"
            )

    @staticmethod
    def forward(ctx, p, target, reduction="mean"):
        ctx.save(p, target)
        ctx.reduction = reduction
        log_p = torch.clamp_min(torch.log(p), -100)
        log_1mp = torch.clamp_min(torch.log1p(-p), -100)
        return _reduce(-(target * log_p + (1 - target) * log_1mp), reduction)

    @staticmethod
    def backward(ctx, g):
        p, t = ctx.saved
        local = (p - t) / torch.clamp_min(p * (1 - p), _BCE_EPSILON)
        gt = None
        if ctx.needs_input_grad[1]:
            log_ratio = torch.clamp_min(torch.log1p(-p), -100) - torch.clamp_min(torch.log(p), -100)
            gt = _reduce_grad(g, log_ratio, ctx.reduction, p.numel())
        return _reduce_grad(g, local, ctx.reduction, p.numel()), gt


class CrossEntropyLoss(Function):
    """L = reduce(-log softmax(x)[target]) for class indices (or soft targets);
    dx = (softmax(x) · Σ_c t - t) · g  (/ N for the mean; Σ_c t = 1 for class indices),
    dt = -log softmax(x) · g  (soft targets).
    """

    @staticmethod
    def check(logits: torch.Tensor, target: torch.Tensor, reduction: str) -> None:
        """Raise a ValueError naming the problem unless the arguments suit this loss."""
        check_reduction(reduction)
        if logits.dim() != 2:
            raise ValueError(
                f"CrossEntropyLoss: expected (N, C) logits, got shape {tuple(logits.shape)}"
            )
        if target.is_floating_point():
            check_same_shape("CrossEntropyLoss", logits, target)
            return
        if tuple(target.shape) != (logits.shape[0],):
            raise ValueError(
                f"CrossEntropyLoss: class-index targets must have shape ({logits.shape[0]},) for "
                f"logits of shape {tuple(logits.shape)}, got {tuple(target.shape)}"
            )
        if target.numel() and (int(target.min()) < 0 or int(target.max()) >= logits.shape[1]):
            raise ValueError(
                f"CrossEntropyLoss: class indices must be in [0, {logits.shape[1] - 1}], got "
                f"values from {int(target.min())} to {int(target.max())}"
            )

    @staticmethod
    def forward(ctx, logits, target, reduction="mean"):
        shifted = logits - logits.amax(1, keepdim=True)
        log_probs = shifted - torch.log(torch.exp(shifted).sum(1, keepdim=True))
        if target.dtype in (torch.int64, torch.int32, torch.int16, torch.uint8):
            onehot = torch.zeros_like(log_probs)
            onehot.scatter_(1, target.long().unsqueeze(1), 1.0)
        else:
            onehot = target
        per_sample = -(onehot * log_probs).sum(1)
        ctx.save(log_probs, onehot)
        ctx.soft = onehot is target
        ctx.reduction = reduction
        return _reduce(per_sample, reduction)

    @staticmethod
    def backward(ctx, g):
        log_probs, onehot = ctx.saved
        n = log_probs.shape[0]
        if ctx.reduction == "none":  # g is (N,), one per sample, against (N, C)
            g = g.unsqueeze(1)
        probs = torch.exp(log_probs)
        if ctx.soft:  # soft targets need not sum to 1
            probs = probs * onehot.sum(1, keepdim=True)
        gx = _reduce_grad(g, probs - onehot, ctx.reduction, n)
        gt = _reduce_grad(g, -log_probs, ctx.reduction, n) if ctx.needs_input_grad[1] else None
        return gx, gt
