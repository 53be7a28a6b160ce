"""Arithmetic: elementwise + - * / ** and the functions exp, log, sqrt, abs; matrix products.

Each op is a :class:`~minidl.tensor.Function`: ``forward(ctx, ...)`` computes the value on torch
tensors and saves what the derivative needs; ``backward(ctx, g)`` receives g = dL/dy and returns
dL/d(input) for each input (``None`` where ``ctx.needs_input_grad`` says nobody asked). The
docstring's first line is the maths: ``forward;  backward``.

Broadcasting (a (N, 3) tensor plus a (3,) one) stretches an input in forward, so its gradient
is summed back over the stretched dimensions in backward: ``unbroadcast``.
"""

from __future__ import annotations

from typing import Any

import torch

from ..tensor import Function


def unbroadcast(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Sum a gradient back to ``shape`` over the dimensions broadcasting stretched."""
    if grad.shape == shape:
        return grad
    return grad.sum_to_size(shape) if len(shape) else grad.sum()


def _shape_of(x: Any) -> torch.Size | None:
    return x.shape if isinstance(x, torch.Tensor) else None



class Add(Function):
    """y = a + b;  da = g, db = g (summed over broadcast dims)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape_of(a), _shape_of(b))
        return a + b

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        return (unbroadcast(g, sa) if na else None, unbroadcast(g, sb) if nb else None)


class Sub(Function):
    """y = a - b;  da = g, db = -g."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape_of(a), _shape_of(b))
        return a - b

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        return (unbroadcast(g, sa) if na else None, unbroadcast(-g, sb) if nb else None)


class Mul(Function):
    """y = a * b;  da = g * b, db = g * a."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        return (
            unbroadcast(g * b, a.shape) if na else None,
            unbroadcast(g * a, b.shape) if nb else None,
        )


class Div(Function):
    """y = a / b;  da = g / b, db = -g * a / b² = -g * y / b."""

    @staticmethod
    def forward(ctx, a, b):
        y = a / b
        ctx.save(a, b, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.saved
        na, nb = ctx.needs_input_grad
        return (
            unbroadcast(g / b, a.shape) if na else None,
            unbroadcast(-g * y / b, b.shape) if nb else None,
        )


class Neg(Function):
    """y = -x;  dx = -g."""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return (-g,)


class Pow(Function):
    """y = a ** b;  da = g * b * a^(b-1),  db = g * y * log(a)  (where a > 0)."""

    @staticmethod
    def forward(ctx, a, b):
        y = torch.pow(a, b)
        ctx.save(a, b, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.saved
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            # torch's convention: x ** 0 has derivative 0 everywhere, even at x = 0 (0 * 0⁻¹)
            da = (b * torch.pow(a, b - 1)).masked_fill(torch.as_tensor(b == 0), 0)
            ga = unbroadcast(g * da, a.shape)
        if nb:
            # a may be a number (2 ** x); where the base is 0 and the exponent >= 0, torch
            # takes the exponent's gradient as 0 rather than 0 * log 0
            db = (y * torch.log(torch.as_tensor(a, dtype=y.dtype))).masked_fill(
                torch.as_tensor((a == 0) & (b >= 0)), 0
            )
            gb = unbroadcast(g * db, b.shape)
        return ga, gb



class MatMul(Function):
    """y = a @ b;  da = g @ bᵀ, db = aᵀ @ g  (vectors are treated as 1-row/1-column matrices)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return torch.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        a2 = a.unsqueeze(0) if a.dim() == 1 else a  # (k,) -> (1, k)
        b2 = b.unsqueeze(-1) if b.dim() == 1 else b  # (k,) -> (k, 1)
        g2 = g
        if b.dim() == 1:  # (..., n) -> (..., n, 1); first, so a 0-d g (vector·vector) works
            g2 = g2.unsqueeze(-1)
        if a.dim() == 1:
            g2 = g2.unsqueeze(-2)
        ga = gb = None
        if na:
            ga = torch.matmul(g2, b2.transpose(-1, -2))
            ga = unbroadcast(ga, a2.shape).reshape(a.shape)
        if nb:
            gb = torch.matmul(a2.transpose(-1, -2), g2)
            gb = unbroadcast(gb, b2.shape).reshape(b.shape)
        return ga, gb


class Linear(Function):
    """y = x @ Wᵀ + b;  dx = g @ W,  dW = gᵀ @ x,  db = Σ_rows g.

    W is (out, in) as in torch; x is a batch of rows (N, in), or any (*, in), whose rows are
    treated alike. Forward is one addmm (x @ Wᵀ + b in a single product), as torch's Linear.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        ctx.save(x, weight)
        if x.dim() != 2:
            y = torch.matmul(x, weight.t())
            return y if bias is None else y + bias
        if bias is None:
            return torch.mm(x, weight.t())
        return torch.addmm(bias, x, weight.t())

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved
        shape = x.shape
        if x.dim() != 2:  # (*, in): the same formulas on the rows
            x, g = x.reshape(-1, shape[-1]), g.reshape(-1, g.shape[-1])
        nx, nw, nb = ctx.needs_input_grad
        gx = gw = gb = None
        if nx:
            gx = torch.mm(g, weight)
            gx = gx if len(shape) == 2 else gx.reshape(shape)
        if nw:
            gw = torch.mm(g.t(), x)
        if nb:
            gb = g.sum(0)
        return gx, gw, gb


class BatchedLinear(Function):
    """y_m = x_m @ W_mᵀ + b_m for each model m;  dx_m = g_m @ W_m,  dW_m = g_mᵀ @ x_m,
    db_m = Σ_rows g_m.

    M models of one shape at once (``minidl.nn.stack``): W is (M, out, in), b is (M, out), x is
    (M, N, in), one batch per model, or (N, in) shared by all of them, and y is (M, N, out).
    Each model's slice is Linear's formula; forward is one baddbmm (a batch of M products).
    A shared x is used by every model, so its gradient is the sum of theirs.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        models = weight.shape[0]
        if x.dim() == 2:  # shared by every model: a view, no copy
            x = x.expand(models, *x.shape)
        ctx.save(x, weight)
        if bias is None:
            return torch.bmm(x, weight.transpose(1, 2))
        return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved
        nx, nw, nb = ctx.needs_input_grad
        gx = gw = gb = None
        if nx:
            gx = torch.bmm(g, weight)
            if x.stride(0) == 0:  # x was shared: every model's gradient arrives at it
                gx = gx.sum(0)
        if nw:
            gw = torch.bmm(g.transpose(1, 2), x)
        if nb:
            gb = g.sum(1)
        return gx, gw, gb


class Exp(Function):
    """y = eˣ;  dx = g * y."""

    @staticmethod
    def forward(ctx, x):
        y = torch.exp(x)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return (g * y,)


class Log(Function):
    """y = ln x;  dx = g / x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return torch.log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return (g / x,)


class Sqrt(Function):
    """y = √x;  dx = g / (2y)."""

    @staticmethod
    def forward(ctx, x):
        y = torch.sqrt(x)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return (g / (2 * y),)


class Abs(Function):
    """y = |x|;  dx = g * sign(x)  (0 at x = 0, as torch)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return torch.abs(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return (g * torch.sign(x),)

