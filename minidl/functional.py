"""The functional interface: the functions models call (``F.relu(x)``, ``F.mse_loss(y, t)``).

Each one checks its arguments (a clear message for a wrong shape or option) and applies one op
from ``minidl/ops/``, where the maths is. Tensor's operators and methods call these too.
"""

from __future__ import annotations

from typing import Any

import torch

from .ops import (
    ELU,
    GELU,
    Abs,
    Add,
    AvgPool2d,
    BatchedLinear,
    BCELoss,
    Cat,
    Conv2d,
    ConvTranspose2d,
    CrossEntropyLoss,
    Div,
    Dropout,
    Exp,
    HuberLoss,
    Index,
    L1Loss,
    LeakyReLU,
    Linear,
    Log,
    LogSoftmax,
    MatMul,
    Max,
    MaxPool2d,
    Mean,
    MSELoss,
    Mul,
    Neg,
    Permute,
    Pow,
    ReLU,
    Reshape,
    Sigmoid,
    SiLU,
    Sine,
    Softmax,
    Softplus,
    Sqrt,
    Sub,
    Sum,
    Tanh,
    Transpose,
    UpsampleNearest,
)
from .tensor import ShapeError, Tensor


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def add(a: Any, b: Any) -> Tensor:
    """a + b with broadcasting."""
    return Add.apply(a, b)


def sub(a: Any, b: Any) -> Tensor:
    """a - b with broadcasting."""
    return Sub.apply(a, b)


def mul(a: Any, b: Any) -> Tensor:
    """a * b with broadcasting."""
    return Mul.apply(a, b)


def div(a: Any, b: Any) -> Tensor:
    """a / b with broadcasting."""
    return Div.apply(a, b)


def neg(x: Any) -> Tensor:
    """-x."""
    return Neg.apply(x)


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001 - torch's name
    """a ** b with broadcasting (tensor or number exponent)."""
    return Pow.apply(a, b)


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with torch.matmul's rules (vectors, matrices, batches)."""
    return MatMul.apply(a, b)


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """x @ weightᵀ + bias in one fused op; weight is (out_features, in_features)."""
    return Linear.apply(x, weight, bias)


def batched_linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """x_m @ weight_mᵀ + bias_m for each of M stacked models (weight (M, out, in))."""
    return BatchedLinear.apply(x, weight, bias)


def sum(x: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Sum over all elements or over ``dim``."""
    return Sum.apply(x, dim=dim, keepdim=keepdim)


def mean(x: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Mean over all elements or over ``dim``."""
    return Mean.apply(x, dim=dim, keepdim=keepdim)


def amax(x: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Maximum over all elements or over ``dim``."""
    return Max.apply(x, dim=dim, keepdim=keepdim)


def reshape(x: Any, *shape: Any) -> Tensor:
    """The same elements in a new shape (one dimension may be -1)."""
    if len(shape) == 1 and isinstance(shape[0], tuple | list | torch.Size):
        shape = tuple(shape[0])
    return Reshape.apply(x, shape=shape)


def transpose(x: Any, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions."""
    return Transpose.apply(x, dim0, dim1)


def permute(x: Any, *dims: int) -> Tensor:
    """Reorder all dimensions."""
    if len(dims) == 1 and isinstance(dims[0], tuple | list):
        dims = tuple(dims[0])
    return Permute.apply(x, dims=dims)


def index(x: Any, index: Any) -> Tensor:
    """x[index] for slices, integers, masks and integer tensors (what ``x[...]`` calls)."""
    if isinstance(index, tuple):
        index = tuple(_data(i) for i in index)
    return Index.apply(x, _data(index))


def cat(tensors: list, dim: int = 0) -> Tensor:
    """Concatenate along ``dim``."""
    return Cat.apply(dim, *tensors)


def exp(x: Any) -> Tensor:
    """eˣ elementwise."""
    return Exp.apply(x)


def log(x: Any) -> Tensor:
    """Natural logarithm elementwise."""
    return Log.apply(x)


def sqrt(x: Any) -> Tensor:
    """Square root elementwise."""
    return Sqrt.apply(x)


def abs(x: Any) -> Tensor:  # noqa: A001
    """|x| elementwise."""
    return Abs.apply(x)


def relu(x: Any) -> Tensor:
    """max(0, x) elementwise."""
    return ReLU.apply(x)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope·x otherwise."""
    return LeakyReLU.apply(x, negative_slope=negative_slope)


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent elementwise."""
    return Tanh.apply(x)


def sigmoid(x: Any) -> Tensor:
    """Logistic sigmoid 1 / (1 + e⁻ˣ), stable for large |x|."""
    return Sigmoid.apply(x)


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha·(eˣ - 1) otherwise (torch's ELU)."""
    return ELU.apply(x, alpha=alpha)


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """x·Φ(x) with Φ the standard normal CDF, exactly (via erf); torch's default GELU."""
    if approximate != "none":
        raise ValueError(
            f"gelu: only the exact GELU (approximate='none') is implemented, got {approximate!r}"
        )
    return GELU.apply(x)


def silu(x: Any) -> Tensor:
    """x·sigmoid(x) elementwise (swish)."""
    return SiLU.apply(x)


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta·x)) / beta, and x itself where beta·x > threshold (torch's Softplus)."""
    return Softplus.apply(x, beta=beta, threshold=threshold)


def sin(x: Any) -> Tensor:
    """sin x elementwise (the Sine layer's op)."""
    return Sine.apply(x)


def softmax(x: Any, dim: int = -1) -> Tensor:
    """Softmax along ``dim``, computed stably (shifted by the maximum)."""
    return Softmax.apply(x, dim=dim)


def log_softmax(x: Any, dim: int = -1) -> Tensor:
    """log(softmax(x)) along ``dim``, computed stably."""
    return LogSoftmax.apply(x, dim=dim)


def dropout(x: Any, p: float = 0.5, training: bool = True, generator: Any = None) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0:
        return x if isinstance(x, Tensor) else Tensor(x)
    return Dropout.apply(x, p, generator=generator)


def mse_loss(x: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean (or summed) squared error between output and target of the same shape."""
    MSELoss.check(_data(x), _data(target), reduction)
    return MSELoss.apply(x, target, reduction=reduction)


def l1_loss(x: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean (or summed) absolute error between output and target of the same shape."""
    L1Loss.check(_data(x), _data(target), reduction)
    return L1Loss.apply(x, target, reduction=reduction)


def huber_loss(x: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """Mean (or summed) Huber loss: squared error within ``delta`` of the target, linear beyond."""
    HuberLoss.check(_data(x), _data(target), reduction, delta)
    return HuberLoss.apply(x, target, reduction=reduction, delta=delta)


def binary_cross_entropy(p: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities p in [0, 1] against targets in [0, 1]."""
    BCELoss.check(_data(p), _data(target), reduction)
    return BCELoss.apply(p, target, reduction=reduction)


def cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of (N, C) logits against class indices (N,) or soft targets (N, C)."""
    CrossEntropyLoss.check(_data(logits), _data(target), reduction)
    return CrossEntropyLoss.apply(logits, target, reduction=reduction)


# -- images (the ops in the "images" section above) --------------------------------------------


def _pair(value: Any, name: str, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints (kernel size, stride ...) as a pair, checked against minimum."""
    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    pair = (value, value) if is_int(value) else value
    if not isinstance(pair, tuple | list) or len(pair) != 2 or not all(map(is_int, pair)):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return tuple(pair)


def _check_images(who: str, x: Any, channels: int | None = None) -> tuple[int, ...]:
    """x's shape, checked to be a batch of images (N, C, H, W) with ``channels`` channels."""
    shape = tuple(_data(x).shape)
    expected = f"(N, {channels if channels is not None else 'C'}, H, W)"
    if len(shape) != 4:
        hint = " (for a single image add a batch dimension: x[None])" if len(shape) == 3 else ""
        raise ShapeError(
            f"{who} expects a batch of images of shape {expected} but got {shape}{hint}"
        )
    if channels is not None and shape[1] != channels:
        raise ShapeError(
            f"{who} expects input of shape {expected} with {channels} channels but got {shape} "
            f"with {shape[1]}"
        )
    return shape


def _check_window(
    who: str,
    shape: tuple[int, ...],
    kernel_size: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
) -> None:
    """Raise unless the (dilated) kernel fits inside the padded image."""
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel_size, dilation, strict=True))
    padded = tuple(s + 2 * p for s, p in zip(shape[2:], padding, strict=True))
    if span[0] > padded[0] or span[1] > padded[1]:
        dilated = f" (dilation {dilation})" if dilation != (1, 1) else ""
        raise ShapeError(
            f"{who}: the kernel {kernel_size}{dilated} covers {span[0]}×{span[1]} pixels but the "
            f"input {shape} padded by {padding} is only {padded[0]}×{padded[1]}"
        )


def _check_pool_padding(who: str, kernel_size: tuple[int, int], padding: tuple[int, int]) -> None:
    if padding[0] > kernel_size[0] // 2 or padding[1] > kernel_size[1] // 2:
        raise ValueError(
            f"{who}: padding {padding} must be at most half the kernel size {kernel_size}"
        )


def _check_weight(who: str, weight: Any, bias: Any, out_dim: int) -> tuple[int, ...]:
    ws = tuple(_data(weight).shape)
    if len(ws) != 4:
        raise ShapeError(f"{who}: the weight must have 4 dimensions, got shape {ws}")
    if bias is not None and tuple(_data(bias).shape) != (ws[out_dim],):
        raise ShapeError(
            f"{who}: the bias must have shape ({ws[out_dim]},) for a weight of shape {ws}, got "
            f"{tuple(_data(bias).shape)}"
        )
    return ws


def _check_output_padding(
    who: str, output_padding: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> None:
    if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation, strict=True)):
        raise ValueError(
            f"{who}: output_padding {output_padding} must be smaller than the stride {stride} "
            f"or the dilation {dilation}"
        )


def _check_transposed_size(
    who: str,
    shape: tuple[int, ...],
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> None:
    """Raise when the padding would crop the whole output of a transposed convolution away."""
    canvas = [(s - 1) * st + d * (k - 1) + 1 for s, k, st, d in
              zip(shape[2:], kernel_size, stride, dilation, strict=True)]
    if any(c - 2 * p < 1 for c, p in zip(canvas, padding, strict=True)):
        raise ShapeError(
            f"{who}: the input {shape} spreads over only {canvas[0]}×{canvas[1]} pixels, too few "
            f"to crop a padding of {padding} from both sides"
        )


def conv2d(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
) -> Tensor:
    """2-D convolution (cross-correlation, as torch) of (N, C, H, W) images by (out, C, kh, kw)."""
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    padding = _pair(padding, "padding", minimum=0)
    ws = _check_weight("conv2d", weight, bias, 0)
    shape = _check_images("conv2d", x, ws[1])
    _check_window("conv2d", shape, ws[2:], padding, dilation)
    return Conv2d.apply(x, weight, bias, stride=stride, padding=padding, dilation=dilation)


def conv_transpose2d(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    *,
    dilation: Any = 1,
) -> Tensor:
    """Transposed 2-D convolution (conv2d's adjoint, "deconvolution"); weight (C, out, kh, kw)."""
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    padding = _pair(padding, "padding", minimum=0)
    output_padding = _pair(output_padding, "output_padding", minimum=0)
    ws = _check_weight("conv_transpose2d", weight, bias, 1)
    _check_output_padding("conv_transpose2d", output_padding, stride, dilation)
    shape = _check_images("conv_transpose2d", x, ws[0])
    _check_transposed_size("conv_transpose2d", shape, ws[2:], stride, padding, dilation)
    return ConvTranspose2d.apply(
        x, weight, bias, stride=stride, padding=padding, output_padding=output_padding,
        dilation=dilation,
    )


def upsample_nearest(x: Any, scale_factor: Any = 2) -> Tensor:
    """Nearest-neighbour upsampling of (N, C, H, W) images by integer factors: pixel → block."""
    scale_factor = _pair(scale_factor, "scale_factor")
    _check_images("upsample_nearest", x)
    return UpsampleNearest.apply(x, scale_factor=scale_factor)


def max_pool2d(
    x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1
) -> Tensor:
    """The maximum of each window of (N, C, H, W) images; stride defaults to the kernel size."""
    kernel_size = _pair(kernel_size, "kernel_size")
    stride = kernel_size if stride is None else _pair(stride, "stride")
    padding, dilation = _pair(padding, "padding", minimum=0), _pair(dilation, "dilation")
    _check_pool_padding("max_pool2d", kernel_size, padding)
    _check_window("max_pool2d", _check_images("max_pool2d", x), kernel_size, padding, dilation)
    return MaxPool2d.apply(
        x, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation
    )


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """The mean of each window of (N, C, H, W) images, zero padding counted; stride = kernel."""
    kernel_size = _pair(kernel_size, "kernel_size")
    stride = kernel_size if stride is None else _pair(stride, "stride")
    padding = _pair(padding, "padding", minimum=0)
    _check_pool_padding("avg_pool2d", kernel_size, padding)
    _check_window("avg_pool2d", _check_images("avg_pool2d", x), kernel_size, padding)
    return AvgPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding)
