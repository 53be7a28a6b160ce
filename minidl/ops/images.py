"""Images: convolution, transposed convolution, nearest upsampling, max and average pooling.

Images are (N, C, H, W); a kernel or window is (kh, kw). Everything here is im2col: ``_im2col``
copies each kh×kw window of the (padded) image into one column, so a convolution is one matrix
product and a pooling is one reduction down the columns. torch's ``fold`` is its adjoint: it adds
every column back onto the window it came from (overlapping windows add up), which is exactly
what the backward formulas need. Output size per spatial dimension:

    out = ⌊(in + 2·padding - dilation·(k - 1) - 1) / stride⌋ + 1
"""

from __future__ import annotations

import torch
from torch.nn.functional import fold  # col2im: adds columns back onto their windows

from ..tensor import Function


def _embed(
    t: torch.Tensor, top: tuple[int, int], size: tuple[int, int], fill: float = 0.0
) -> torch.Tensor:
    """A (N, C, *size) canvas filled with ``fill``, with t's pixels written from ``top`` on.

    Pixels of t that would land past the canvas's bottom or right edge are left out.
    """
    canvas = t.new_full((*t.shape[:2], *size), fill)
    h, w = min(t.shape[2], size[0] - top[0]), min(t.shape[3], size[1] - top[1])
    canvas[:, :, top[0] : top[0] + h, top[1] : top[1] + w] = t[:, :, :h, :w]
    return canvas


def _crop(t: torch.Tensor, top: tuple[int, int], size: tuple[int, int]) -> torch.Tensor:
    """The ``size`` window of t starting at ``top`` (zeros where it runs past t's edge)."""
    if top[0] + size[0] <= t.shape[2] and top[1] + size[1] <= t.shape[3]:
        return t[:, :, top[0] : top[0] + size[0], top[1] : top[1] + size[1]]
    return _embed(t[:, :, top[0] :, top[1] :], (0, 0), size)


def _window_count(size: int, k: int, stride: int, padding: int, dilation: int) -> int:
    """How many windows fit along one dimension: the output size formula above."""
    return (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def _im2col(
    x: torch.Tensor,
    kernel_size: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (0, 0),
    stride: tuple[int, int] = (1, 1),
) -> torch.Tensor:
    """Every kh×kw window of x as a column: (N, C, H, W) -> (N, C·kh·kw, Hout·Wout).

    The same as torch's ``unfold``, and faster on CPU: a strided view lays the windows out
    without copying (element (n, c, i, j, r, s) is pixel (r·stride + i·dilation,
    s·stride + j·dilation) of the padded image), then one reshape copies them into columns.
    """
    n, c, h, w = x.shape
    if padding != (0, 0):
        x = _embed(x, padding, (h + 2 * padding[0], w + 2 * padding[1]))
    else:
        x = x.contiguous()
    (kh, kw), (dh, dw), (sh, sw) = kernel_size, dilation, stride
    hout = _window_count(h, kh, sh, padding[0], dh)
    wout = _window_count(w, kw, sw, padding[1], dw)
    sn, sc, srow, scol = x.stride()
    windows = x.as_strided(
        (n, c, kh, kw, hout, wout), (sn, sc, srow * dh, scol * dw, srow * sh, scol * sw)
    )
    return windows.reshape(n, c * kh * kw, hout * wout)


class Conv2d(Function):
    """y = W ⋆ x + b by im2col:  X = im2col(x) (N, C·kh·kw, L),  y = W₂ X + b,

    with W₂ the weight (out, C, kh, kw) seen as a matrix (out, C·kh·kw) and L = Hout·Wout;
    dx = fold(W₂ᵀ g),  dW = Σₙ g Xᵀ,  db = g summed over batch and pixels.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
        n, _, h, w = x.shape
        out_channels, _, kh, kw = weight.shape
        window = dict(kernel_size=(kh, kw), dilation=dilation, padding=padding, stride=stride)
        cols = _im2col(x, **window)  # (N, C·kh·kw, L): one column per output pixel
        w2 = weight.reshape(out_channels, -1)
        y = torch.matmul(w2, cols)  # (N, out, L)
        if bias is not None:
            y = y + bias[:, None]
        ctx.save(cols if ctx.needs_input_grad[1] else None, w2)
        ctx.window, ctx.image_size, ctx.weight_shape = window, (h, w), weight.shape
        hout = _window_count(h, kh, stride[0], padding[0], dilation[0])
        return y.reshape(n, out_channels, hout, -1)

    @staticmethod
    def backward(ctx, g):
        cols, w2 = ctx.saved
        nx, nw, nb = ctx.needs_input_grad
        g2 = g.reshape(g.shape[0], g.shape[1], -1)  # (N, out, L)
        gx = gw = gb = None
        if nx:  # each column's gradient W₂ᵀg goes back onto the window it was copied from
            gx = fold(torch.matmul(w2.t(), g2), ctx.image_size, **ctx.window)
        if nw:  # dW[o, k] = Σ_{n, l} g[n, o, l] · X[n, k, l]: a product per image, summed
            gw = torch.matmul(g2, cols.transpose(1, 2)).sum(0).reshape(ctx.weight_shape)
        if nb:
            gb = g.sum((0, 2, 3))
        return gx, gw, gb


class ConvTranspose2d(Function):
    """Conv2d's adjoint: every input pixel paints a weight-scaled kh×kw patch onto the output.

    cols = W₂ᵀ x (N, out·kh·kw, H·W) with W₂ the weight (in, out, kh, kw) as (in, out·kh·kw);
    y = crop(fold(cols)) + b, where fold adds the patches onto the full canvas and crop cuts
    ``padding`` off the top/left and keeps Hout = (H-1)·stride - 2·padding + dilation·(k-1)
    + output_padding + 1 rows (likewise columns);
    dx = W₂ im2col(G),  dW = Σₙ x im2col(G)ᵀ,  db = Σ g, with G = g put back on the canvas.
    """

    @staticmethod
    def forward(
        ctx, x, weight, bias=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
        dilation=(1, 1),
    ):
        n, in_channels, h, w = x.shape
        _, out_channels, kh, kw = weight.shape
        canvas_size = (
            (h - 1) * stride[0] + dilation[0] * (kh - 1) + 1,
            (w - 1) * stride[1] + dilation[1] * (kw - 1) + 1,
        )
        out_size = (
            canvas_size[0] - 2 * padding[0] + output_padding[0],
            canvas_size[1] - 2 * padding[1] + output_padding[1],
        )
        window = dict(kernel_size=(kh, kw), dilation=dilation, stride=stride)
        w2 = weight.reshape(in_channels, -1)
        x2 = x.reshape(n, in_channels, h * w)
        canvas = fold(torch.matmul(w2.t(), x2), canvas_size, **window)
        y = _crop(canvas, padding, out_size)
        if bias is not None:
            y = y + bias[:, None, None]
        ctx.save(x2 if ctx.needs_input_grad[1] else None, w2)
        ctx.window, ctx.canvas_size, ctx.padding = window, canvas_size, padding
        ctx.image_shape, ctx.weight_shape = x.shape, weight.shape
        return y

    @staticmethod
    def backward(ctx, g):
        x2, w2 = ctx.saved
        nx, nw, nb = ctx.needs_input_grad
        # G: the output gradient back on the canvas; each pixel's patch gradient is its window
        cols = _im2col(_embed(g, ctx.padding, ctx.canvas_size), **ctx.window)  # (N, out·kk, HW)
        gx = gw = gb = None
        if nx:
            gx = torch.matmul(w2, cols).reshape(ctx.image_shape)
        if nw:  # dW[i, k] = Σ_{n, p} x[n, i, p] · cols[n, k, p]: a product per image, summed
            gw = torch.matmul(x2, cols.transpose(1, 2)).sum(0).reshape(ctx.weight_shape)
        if nb:
            gb = g.sum((0, 2, 3))
        return gx, gw, gb


class UpsampleNearest(Function):
    """y[n, c, i, j] = x[n, c, ⌊i/s₀⌋, ⌊j/s₁⌋]: each pixel becomes an s₀×s₁ block;

    dx = g summed over each block.
    """

    @staticmethod
    def forward(ctx, x, scale_factor=(2, 2)):
        n, c, h, w = x.shape
        s0, s1 = scale_factor
        ctx.block_shape = (n, c, h, s0, w, s1)
        return x[:, :, :, None, :, None].expand(ctx.block_shape).reshape(n, c, h * s0, w * s1)

    @staticmethod
    def backward(ctx, g):
        return (g.reshape(ctx.block_shape).sum((3, 5)),)


class MaxPool2d(Function):
    """y = the maximum of each kh×kw window (padding counts as -∞);

    dx = g sent to the position of each window's maximum (overlapping windows add up).
    """

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding=(0, 0), dilation=(1, 1)):
        n, c, h, w = x.shape
        # every channel is pooled alike, so pool N·C one-channel images
        planes = _embed(
            x.reshape(n * c, 1, h, w), padding, (h + 2 * padding[0], w + 2 * padding[1]),
            fill=float("-inf"),
        )
        window = dict(kernel_size=kernel_size, dilation=dilation, stride=stride)
        cols = _im2col(planes, **window)  # (N·C, kh·kw, L)
        y, where = cols.max(dim=1)
        ctx.save(where)
        ctx.window, ctx.cols_shape, ctx.padded_size = window, cols.shape, planes.shape[2:]
        ctx.padding, ctx.image_shape = padding, x.shape
        hout = _window_count(h, kernel_size[0], stride[0], padding[0], dilation[0])
        return y.reshape(n, c, hout, -1)

    @staticmethod
    def backward(ctx, g):
        (where,) = ctx.saved
        g2 = g.reshape(ctx.cols_shape[0], 1, ctx.cols_shape[2])
        gcols = g.new_zeros(ctx.cols_shape).scatter_(1, where[:, None], g2)
        gx = fold(gcols, ctx.padded_size, **ctx.window)
        n, c, h, w = ctx.image_shape
        return (_crop(gx, ctx.padding, (h, w)).reshape(n, c, h, w),)


class AvgPool2d(Function):
    """y = the mean of each kh×kw window (zero padding counted, torch's default);

    dx = g / (kh·kw) spread evenly over each window (overlapping windows add up).
    """

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding=(0, 0)):
        n, c, h, w = x.shape
        window = dict(kernel_size=kernel_size, padding=padding, stride=stride)
        cols = _im2col(x.reshape(n * c, 1, h, w), **window)  # (N·C, kh·kw, L)
        ctx.window, ctx.cols_shape, ctx.image_shape = window, cols.shape, x.shape
        hout = _window_count(h, kernel_size[0], stride[0], padding[0], 1)
        return cols.mean(1).reshape(n, c, hout, -1)

    @staticmethod
    def backward(ctx, g):
        planes, area, length = ctx.cols_shape
        gcols = (g.reshape(planes, 1, length) / area).expand(ctx.cols_shape)
        n, c, h, w = ctx.image_shape
        return (fold(gcols, (h, w), **ctx.window).reshape(n, c, h, w),)
