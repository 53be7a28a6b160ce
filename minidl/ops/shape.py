"""Reductions (sum, mean, max) and shape ops (reshape, transpose, permute, index, cat).

A reduction's gradient flows back to every element it reduced: ``g`` is broadcast back to the
input's shape (``_keep_reduced_dims`` puts the reduced dimensions back as size 1 first). A shape
op moves elements without changing them, so its backward moves the gradient back.
"""

from __future__ import annotations

from typing import Any

import torch

from ..tensor import Function


def _reduce_all(y: torch.Tensor, x: torch.Tensor, keepdim: bool) -> torch.Tensor:
    """A full reduction's result, with every dimension kept as size 1 if ``keepdim``."""
    return y.reshape([1] * x.dim()) if keepdim else y


def _keep_reduced_dims(g: torch.Tensor, shape: torch.Size, dim: Any, keepdim: bool):
    """Re-insert the dimensions a reduction removed, so g broadcasts back to ``shape``."""
    if dim is None:
        return g.reshape([1] * len(shape))
    if keepdim:
        return g
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    for d in sorted(d % len(shape) for d in dims):
        g = g.unsqueeze(d)
    return g


class Sum(Function):
    """y = Σ x over ``dim``;  dx = g broadcast back to x's shape."""

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        ctx.x_shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        return _reduce_all(x.sum(), x, keepdim) if dim is None else x.sum(dim, keepdim=keepdim)

    @staticmethod
    def backward(ctx, g):
        g = _keep_reduced_dims(g, ctx.x_shape, ctx.dim, ctx.keepdim)
        return (g.expand(ctx.x_shape),)


class Mean(Function):
    """y = (1/n) Σ x over ``dim``;  dx = g / n broadcast back."""

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        ctx.x_shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        y = _reduce_all(x.mean(), x, keepdim) if dim is None else x.mean(dim, keepdim=keepdim)
        ctx.count = x.numel() // max(y.numel(), 1) if x.numel() else 1
        return y

    @staticmethod
    def backward(ctx, g):
        g = _keep_reduced_dims(g, ctx.x_shape, ctx.dim, ctx.keepdim)
        return ((g / ctx.count).expand(ctx.x_shape),)


class Max(Function):
    """y = max x over ``dim``;  dx = g at the arg-max (split evenly between ties)."""

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        y = _reduce_all(x.amax(), x, keepdim) if dim is None else x.amax(dim, keepdim=keepdim)
        ctx.save(x, y)
        ctx.dim, ctx.keepdim = dim, keepdim
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved
        y = _keep_reduced_dims(y, x.shape, ctx.dim, ctx.keepdim)
        g = _keep_reduced_dims(g, x.shape, ctx.dim, ctx.keepdim)
        mask = (x == y).to(g.dtype)
        count = mask.sum() if ctx.dim is None else mask.sum(ctx.dim, keepdim=True)
        return (g * mask / count,)


class Reshape(Function):
    """y = x viewed as ``shape``;  dx = g reshaped back."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.x_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return (g.reshape(ctx.x_shape),)


class Transpose(Function):
    """y = x with dims d0 and d1 swapped;  dx = g with them swapped back."""

    @staticmethod
    def forward(ctx, x, dim0, dim1):
        ctx.dims = (dim0, dim1)
        return x.transpose(dim0, dim1)

    @staticmethod
    def backward(ctx, g):
        return (g.transpose(*ctx.dims),)


class Permute(Function):
    """y = x with its dims reordered;  dx = g with the inverse order."""

    @staticmethod
    def forward(ctx, x, dims):
        ctx.inverse = tuple(sorted(range(len(dims)), key=lambda i: dims[i]))
        return x.permute(*dims)

    @staticmethod
    def backward(ctx, g):
        return (g.permute(*ctx.inverse),)


class Index(Function):
    """y = x[index];  dx = zeros with g scattered (added) back where it was taken from.

    Works for slices, integers, masks and integer arrays; repeated indices accumulate.
    """

    @staticmethod
    def forward(ctx, x, index):
        ctx.x_shape = x.shape
        ctx.save(index)
        return x[index]

    @staticmethod
    def backward(ctx, g):
        (index,) = ctx.saved
        gx = g.new_zeros(ctx.x_shape)
        positions = torch.arange(gx.numel(), device=g.device).reshape(ctx.x_shape)[index]
        gx.view(-1).index_add_(0, positions.reshape(-1), g.reshape(-1))
        return (gx,)


class Cat(Function):
    """y = concatenation of the inputs along ``dim``;  each input gets its slice of g."""

    @staticmethod
    def forward(ctx, dim, *xs):
        ctx.dim, ctx.sizes = dim, [x.shape[dim] for x in xs]
        return torch.cat(xs, dim)

    @staticmethod
    def backward(ctx, g):
        return (None, *torch.split(g, ctx.sizes, ctx.dim))
