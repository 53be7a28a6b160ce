"""Activations and the other elementwise layers of a network: ReLU, LeakyReLU, Tanh, Sigmoid,
Softmax, LogSoftmax and Dropout.

Several of them save their output y rather than their input: the derivative is a function of y
alone (tanh' = 1 - y², sigmoid' = y (1 - y), ReLU's step is where y > 0).
"""

from __future__ import annotations

import torch

from ..tensor import Function


class ReLU(Function):
    """y = max(0, x);  dx = g where x > 0, else 0.

    As y ≥ 0, sign(y) is that step (1 where x > 0, else 0), so dx = g · sign(y): one float
    multiplication, a third of the time of torch.where(y > 0, g, 0). (The one difference: an
    infinite g at a dead unit gives nan, where torch gives 0; the loss has diverged by then.)
    """

    @staticmethod
    def forward(ctx, x):
        y = torch.relu(x)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return (g * torch.sign(y),)


class LeakyReLU(Function):
    """y = x if x > 0 else slope·x;  dx = g if x > 0 else slope·g."""

    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        positive = x > 0
        ctx.save(positive)
        ctx.slope = negative_slope
        return torch.where(positive, x, x * negative_slope)

    @staticmethod
    def backward(ctx, g):
        (positive,) = ctx.saved
        return (torch.where(positive, g, g * ctx.slope),)


class Tanh(Function):
    """y = tanh x;  dx = g * (1 - y²), computed as g - g·y·y (tensor ops only: a number on the
    left, 1 - ..., takes torch's slower path; this is half the time)."""

    @staticmethod
    def forward(ctx, x):
        y = torch.tanh(x)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return (g - g * y * y,)


class Sigmoid(Function):
    """y = 1 / (1 + e⁻ˣ);  dx = g * y * (1 - y), with y (1 - y) computed as y - y·y in one
    torch call, addcmul(y, y, y, value=-1) (half the time of g * y * (1 - y)).

    torch.sigmoid evaluates e^(-|x|), never e^(+large): no overflow, no 0/0, for any x.
    """

    @staticmethod
    def forward(ctx, x):
        y = torch.sigmoid(x)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return (g * torch.addcmul(y, y, y, value=-1),)


class Softmax(Function):
    """y = e^(x - max) / Σ e^(x - max) along ``dim``;  dx = y * (g - Σ g·y)."""

    @staticmethod
    def forward(ctx, x, dim=-1):
        e = torch.exp(x - x.amax(dim, keepdim=True))
        y = e / e.sum(dim, keepdim=True)
        ctx.save(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return (y * (g - (g * y).sum(ctx.dim, keepdim=True)),)


class LogSoftmax(Function):
    """y = x - max - log Σ e^(x - max) along ``dim``;  dx = g - softmax(x) * Σ g."""

    @staticmethod
    def forward(ctx, x, dim=-1):
        shifted = x - x.amax(dim, keepdim=True)
        y = shifted - torch.log(torch.exp(shifted).sum(dim, keepdim=True))
        ctx.save(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return (g - torch.exp(y) * g.sum(ctx.dim, keepdim=True),)


class Dropout(Function):
    """y = x * mask / (1 - p), mask ~ Bernoulli(1 - p);  dx = g * mask / (1 - p)."""

    @staticmethod
    def forward(ctx, x, p, generator=None):
        keep = torch.empty_like(x).bernoulli_(1 - p, generator=generator)
        scale = keep / (1 - p)
        ctx.save(scale)
        return x * scale

    @staticmethod
    def backward(ctx, g):
        (scale,) = ctx.saved
        return (g * scale,)
