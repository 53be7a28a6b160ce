"""Activations and the other elementwise layers of a network: ReLU, LeakyReLU, Tanh, Sigmoid,
ELU, GELU, SiLU, Softplus, Sine, Softmax, LogSoftmax and Dropout.

Several of them save their output y rather than their input: the derivative is a function of y
alone (tanh' = 1 - y², sigmoid' = y (1 - y), ReLU's step is where y > 0). The smooth ones of
the newer networks (ELU, GELU, SiLU, Softplus) and Sine save what their derivative needs: ELU
and Sine the input, GELU x and Φ(x), SiLU x and σ(x), Softplus e^(βx) and where βx is past the
threshold. Each writes its derivative with the same formula as torch's own backward, so the two
agree to rounding.
"""

from __future__ import annotations

import math

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


class ELU(Function):
    """y = x if x > 0 else α(eˣ - 1);  dx = g if x > 0 else g·α·eˣ  (= g (y + α)).

    torch's default α = 1. The curve is smooth where it meets 0 for α = 1 and, unlike ReLU,
    keeps a gradient for negative inputs; it saturates at -α.
    """

    @staticmethod
    def forward(ctx, x, alpha=1.0):
        ctx.save(x)
        ctx.alpha = alpha
        return torch.where(x > 0, x, torch.expm1(x) * alpha)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return (torch.where(x > 0, g, g * (torch.exp(x) * ctx.alpha)),)


_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)  # the standard normal density at 0


class GELU(Function):
    """y = x·Φ(x), Φ(x) = (1 + erf(x/√2)) / 2;  dx = g (Φ(x) + x·φ(x)), φ(x) = e^(-x²/2)/√(2π).

    The exact GELU (torch's ``approximate="none"``): each input is weighted by the probability
    that a standard normal variable falls below it. Φ is the normal's distribution function, φ
    its density.
    """

    @staticmethod
    def forward(ctx, x):
        cdf = 0.5 * (1.0 + torch.erf(x * _SQRT_HALF))
        ctx.save(x, cdf)
        return x * cdf

    @staticmethod
    def backward(ctx, g):
        x, cdf = ctx.saved
        pdf = torch.exp(-0.5 * x * x) * _INV_SQRT_2PI
        return (g * (cdf + x * pdf),)


class SiLU(Function):
    """y = x·σ(x), σ(x) = 1 / (1 + e⁻ˣ);  dx = g·σ(x)(1 + x(1 - σ(x))).

    Also called swish: the input weighted by its own sigmoid.
    """

    @staticmethod
    def forward(ctx, x):
        s = torch.sigmoid(x)
        ctx.save(x, s)
        return x * s

    @staticmethod
    def backward(ctx, g):
        x, s = ctx.saved
        return (g * s * (1 + x * (1 - s)),)


class Softplus(Function):
    """y = log(1 + e^(βx)) / β, or x where βx > threshold;  dx = g·e^(βx) / (e^(βx) + 1)
    (= g·σ(βx)), or g where βx > threshold.

    A smooth ReLU. torch's defaults β = 1, threshold = 20: beyond it y and x agree to float
    precision, and the linear branch keeps e^(βx) from overflowing.
    """

    @staticmethod
    def forward(ctx, x, beta=1.0, threshold=20.0):
        scaled = x * beta
        linear, z = scaled > threshold, torch.exp(scaled)
        ctx.save(linear, z)
        return torch.where(linear, x, torch.log1p(z) / beta)

    @staticmethod
    def backward(ctx, g):
        linear, z = ctx.saved
        return (torch.where(linear, g, g * z / (z + 1)),)


class Sine(Function):
    """y = sin x;  dx = g·cos x.

    Not one of torch's layers: a periodic activation (as in SIREN networks) that fits periodic
    data, such as a spiral or a checkerboard, with few units.
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return torch.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return (g * torch.cos(x),)


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
