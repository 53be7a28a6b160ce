"""Layers for images (N, C, H, W): convolutions, nearest upsampling, pooling and Flatten.

Same names, arguments, parameter names and shapes as torch.nn, so state dicts move both ways:
``Conv2d.weight`` is (out_channels, in_channels, kh, kw), ``ConvTranspose2d.weight`` is
(in_channels, out_channels, kh, kw). The formulas live in ``ops/images.py``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import functional as F
from .. import init, ops
from ..tensor import Parameter, Tensor
from .module import Module

__all__ = ["Conv2d", "ConvTranspose2d", "Upsample", "MaxPool2d", "AvgPool2d", "Flatten"]


def _positive_int(layer: str, name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")
    return value


def _repr_options(layer: Module, defaults: dict[str, Any]) -> str:
    """``, stride=(2, 2), padding=(1, 1)``: the options that differ from their defaults."""
    return "".join(
        f", {name}={getattr(layer, name)}"
        for name, default in defaults.items()
        if getattr(layer, name) != default
    )


class _ConvNd(Module):
    """What Conv2d and ConvTranspose2d share: the options, the weights, their initialisation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        bias: bool,
        weight_shape: tuple[int, int],
        dtype: torch.dtype | None,
        generator: torch.Generator | None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.in_channels = _positive_int(name, "in_channels", in_channels)
        self.out_channels = _positive_int(name, "out_channels", out_channels)
        self.kernel_size = F._pair(kernel_size, f"{name}: kernel_size")
        self.stride = F._pair(stride, f"{name}: stride")
        self.padding = F._pair(padding, f"{name}: padding", minimum=0)
        self.dilation = F._pair(dilation, f"{name}: dilation")
        dtype = dtype or torch.get_default_dtype()
        self.weight = Parameter(torch.empty(*weight_shape, *self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(torch.empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """PyTorch's default: weight and bias ~ U(±1/√fan_in), fan_in = weight.shape[1]·kh·kw."""
        init.torch_default_linear_(self.weight, self.bias, generator=generator)

    def _check_input(self, x: Any, channels: int) -> tuple[int, ...]:
        return F._check_images(repr(self), x, channels)

    def config(self) -> dict[str, Any]:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": list(self.padding),
            "dilation": list(self.dilation),
            "bias": self.bias is not None,
        }


class Conv2d(_ConvNd):
    """2-D convolution y = W ⋆ x + b of (N, in_channels, H, W) images, as torch.nn.Conv2d.

    ``kernel_size``, ``stride``, ``padding`` (zeros) and ``dilation`` take an int or a pair.
    Output size per dimension: ⌊(in + 2·padding - dilation·(k - 1) - 1) / stride⌋ + 1.
    ``bias`` is keyword-only because torch has ``groups`` in its place.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        *,
        bias: bool = True,
        dtype: torch.dtype | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, bias,
            (out_channels, in_channels), dtype, generator,
        )

    def forward(self, x: Any) -> Tensor:
        shape = self._check_input(x, self.in_channels)
        F._check_window(repr(self), shape, self.kernel_size, self.padding, self.dilation)
        return ops.Conv2d.apply(
            x, self.weight, self.bias, stride=self.stride, padding=self.padding,
            dilation=self.dilation,
        )

    def extra_repr(self) -> str:
        options = _repr_options(self, {"padding": (0, 0), "dilation": (1, 1)})
        bias = "" if self.bias is not None else ", bias=False"
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}{options}{bias}"
        )


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution (Conv2d's adjoint), as torch.nn.ConvTranspose2d.

    Each input pixel paints its weight-scaled kernel onto the output, ``stride`` pixels apart;
    output size per dimension: (in - 1)·stride - 2·padding + dilation·(k - 1) + output_padding
    + 1. ``output_padding`` picks among the sizes a stride-s Conv2d maps to the same size.
    ``bias`` and ``dilation`` are keyword-only because torch has ``groups`` before them.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        *,
        bias: bool = True,
        dilation: Any = 1,
        dtype: torch.dtype | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, bias,
            (in_channels, out_channels), dtype, generator,
        )
        self.output_padding = F._pair(output_padding, "ConvTranspose2d: output_padding", 0)
        F._check_output_padding(repr(self), self.output_padding, self.stride, self.dilation)

    def forward(self, x: Any) -> Tensor:
        shape = self._check_input(x, self.in_channels)
        F._check_transposed_size(
            repr(self), shape, self.kernel_size, self.stride, self.padding, self.dilation
        )
        return ops.ConvTranspose2d.apply(
            x, self.weight, self.bias, stride=self.stride, padding=self.padding,
            output_padding=self.output_padding, dilation=self.dilation,
        )

    def config(self) -> dict[str, Any]:
        return {**super().config(), "output_padding": list(self.output_padding)}

    def extra_repr(self) -> str:
        options = _repr_options(
            self,
            {"padding": (0, 0), "output_padding": (0, 0), "dilation": (1, 1)},
        )
        bias = "" if self.bias is not None else ", bias=False"
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}{options}{bias}"
        )


class Upsample(Module):
    """Nearest-neighbour upsampling by integer factors: each pixel becomes a block (seed 003).

    ``Upsample(2)`` doubles height and width. Unlike torch.nn.Upsample, whose first argument is
    ``size``, the scale factor comes first; ``Upsample(scale_factor=2)`` means the same in both.
    Only ``mode="nearest"`` exists here.
    """

    def __init__(self, scale_factor: Any = 2, mode: str = "nearest") -> None:
        super().__init__()
        if mode != "nearest":
            raise ValueError(f"Upsample: only mode='nearest' is implemented, got {mode!r}")
        if isinstance(scale_factor, float) and scale_factor.is_integer():
            scale_factor = int(scale_factor)
        elif isinstance(scale_factor, tuple | list):
            scale_factor = [
                int(s) if isinstance(s, float) and s.is_integer() else s for s in scale_factor
            ]
        self.scale_factor = F._pair(scale_factor, "Upsample: scale_factor")
        self.mode = mode

    def forward(self, x: Any) -> Tensor:
        F._check_images(repr(self), x)
        return ops.UpsampleNearest.apply(x, scale_factor=self.scale_factor)

    def config(self) -> dict[str, Any]:
        return {"scale_factor": list(self.scale_factor), "mode": self.mode}

    def extra_repr(self) -> str:
        s0, s1 = self.scale_factor
        factor = s0 if s0 == s1 else self.scale_factor
        return f"scale_factor={factor}, mode={self.mode!r}"


class _Pool2d(Module):
    """What MaxPool2d and AvgPool2d share: kernel, stride (default: the kernel), padding."""

    def __init__(self, kernel_size: Any, stride: Any, padding: Any) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = F._pair(kernel_size, f"{name}: kernel_size")
        self.stride = self.kernel_size if stride is None else F._pair(stride, f"{name}: stride")
        self.padding = F._pair(padding, f"{name}: padding", minimum=0)
        F._check_pool_padding(name, self.kernel_size, self.padding)

    def config(self) -> dict[str, Any]:
        return {
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": list(self.padding),
        }

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """The maximum of each kernel_size window, as torch.nn.MaxPool2d (padding counts as -∞)."""

    def __init__(
        self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1
    ) -> None:
        super().__init__(kernel_size, stride, padding)
        self.dilation = F._pair(dilation, "MaxPool2d: dilation")

    def forward(self, x: Any) -> Tensor:
        shape = F._check_images(repr(self), x)
        F._check_window(repr(self), shape, self.kernel_size, self.padding, self.dilation)
        return ops.MaxPool2d.apply(
            x, kernel_size=self.kernel_size, stride=self.stride, padding=self.padding,
            dilation=self.dilation,
        )

    def config(self) -> dict[str, Any]:
        return {**super().config(), "dilation": list(self.dilation)}

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, dilation={self.dilation}"


class AvgPool2d(_Pool2d):
    """The mean of each kernel_size window, as torch.nn.AvgPool2d (zero padding counted)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__(kernel_size, stride, padding)

    def forward(self, x: Any) -> Tensor:
        shape = F._check_images(repr(self), x)
        F._check_window(repr(self), shape, self.kernel_size, self.padding)
        return ops.AvgPool2d.apply(
            x, kernel_size=self.kernel_size, stride=self.stride, padding=self.padding
        )


class Flatten(Module):
    """Merge dims start_dim..end_dim into one, as torch.nn.Flatten: (N, C, H, W) → (N, C·H·W)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Any) -> Tensor:
        shape = tuple((x.data if isinstance(x, Tensor) else x).shape)
        rank = max(len(shape), 1)
        start, end = self.start_dim % rank, self.end_dim % rank
        if not -rank <= self.start_dim < rank or not -rank <= self.end_dim < rank or start > end:
            raise F._shape_error(
                f"{self!r} cannot flatten dimensions {self.start_dim}..{self.end_dim} of an "
                f"input of shape {shape}"
            )
        merged = math.prod(shape[start : end + 1])
        return F.reshape(x, (*shape[:start], merged, *shape[end + 1 :]))

    def config(self) -> dict[str, Any]:
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
