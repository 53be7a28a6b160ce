"""PyTorch as the oracle: run one computation in minidl and in torch, compare values and gradients.

tinygrad-style: a test case is one line,

    check(lambda a, b: a * b, x, y)

``check`` turns every floating-point input into a leaf that requires a gradient on both sides
(a minidl Tensor, a torch tensor with ``requires_grad``), runs the lambda on each, and asserts
that the outputs and every input's gradient agree, in float64 within 1e-10 and in float32 within
1e-5. Wrap an input in :class:`Fixed` to pass it to minidl as a plain torch tensor that needs no
gradient (targets, operands on the torch side of a mixed expression).

``finite_difference_check`` is the independent second opinion: minidl's analytic gradient
against central differences of minidl's own forward in float64.

The hypothesis strategies at the bottom draw shapes (broadcast-compatible ones too) and values.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import minidl

# tolerance (absolute and relative) per dtype, as the issue asks
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}
DTYPES = (torch.float64, torch.float32)

# modest example counts: every hypothesis test in these files runs in well under a second
fast = settings(max_examples=25, deadline=None)


@dataclass(frozen=True)
class Fixed:
    """An input that needs no gradient; minidl gets it as a plain torch tensor."""

    value: Any


def assert_close(actual: Any, expected: Any, dtype: torch.dtype, what: str) -> None:
    """Values agree within the dtype's tolerance (absolute and relative); NaN only with NaN."""
    tol = TOLERANCE[dtype]
    if (
        actual.shape == expected.shape
        and actual.dtype == expected.dtype
        and torch.isclose(actual, expected, rtol=tol, atol=tol, equal_nan=True).all()
    ):
        return  # the common case, without torch.testing's (slower) bookkeeping
    torch.testing.assert_close(
        actual, expected, atol=tol, rtol=tol, equal_nan=True, msg=lambda m: f"{what}: {m}"
    )


def _leaves(inputs: Sequence[Any], dtype: torch.dtype) -> tuple[list, list]:
    """The minidl and the torch version of every input, float ones cast to dtype."""
    ours, theirs = [], []
    for x in inputs:
        if isinstance(x, Fixed):
            v = x.value
            if isinstance(v, torch.Tensor) and v.is_floating_point():
                v = v.to(dtype)
            ours.append(v)
            theirs.append(v)
        elif isinstance(x, torch.Tensor) and x.is_floating_point():
            v = x.detach().to(dtype)
            ours.append(minidl.Tensor(v.clone(), requires_grad=True))
            theirs.append(v.clone().requires_grad_(True))
        else:
            ours.append(x)
            theirs.append(x)
    return ours, theirs


def _upstream(shape: torch.Size, dtype: torch.dtype) -> torch.Tensor:
    """A fixed, non-trivial dL/d(output) so every output element's gradient path counts."""
    gen = torch.Generator().manual_seed(1234)
    return torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)


def check(
    fn: Callable[..., Any],
    *inputs: Any,
    torch_fn: Callable[..., Any] | None = None,
    dtypes: Sequence[torch.dtype] = DTYPES,
    grad: bool = True,
) -> None:
    """Run ``fn`` on minidl inputs and ``torch_fn`` (default: ``fn``) on torch ones; compare.

    Compares the output's value and dtype and, with ``grad``, the gradient of every input that
    needs one after backward() (no argument for a single-element output, else a fixed random
    upstream gradient). Also checks that minidl made no torch tensor with requires_grad.
    """
    for dtype in dtypes:
        ours, theirs = _leaves(inputs, dtype)
        out = fn(*ours)
        expected = (torch_fn or fn)(*theirs)
        assert isinstance(out, minidl.Tensor), f"minidl returned {type(out).__name__}"
        assert not out.data.requires_grad, "minidl's output data has requires_grad=True"
        assert out.dtype == expected.dtype, f"dtype {out.dtype} != torch's {expected.dtype}"
        assert out.shape == expected.shape, f"shape {tuple(out.shape)} != {tuple(expected.shape)}"
        assert_close(out.data, expected.detach(), dtype, f"value ({dtype})")
        if not grad or not expected.requires_grad:
            continue
        if expected.numel() == 1 and expected.dim() == 0:
            out.backward()
            expected.backward()
        else:
            g = _upstream(expected.shape, expected.dtype)
            out.backward(g)
            expected.backward(g)
        for i, (mine, ref) in enumerate(zip(ours, theirs, strict=True)):
            if not isinstance(ref, torch.Tensor) or not ref.requires_grad:
                continue
            if ref.grad is None:
                assert mine.grad is None or not mine.grad.any(), f"input {i}: unexpected grad"
                continue
            assert mine.grad is not None, f"input {i}: minidl computed no gradient"
            assert not mine.grad.requires_grad, f"input {i}: grad has requires_grad=True"
            assert mine.grad.shape == ref.grad.shape, f"input {i}: grad shape"
            assert_close(mine.grad, ref.grad, dtype, f"gradient of input {i} ({dtype})")


def numerical_gradient(
    f: Callable[..., torch.Tensor], values: list[torch.Tensor], i: int, eps: float
) -> torch.Tensor:
    """Central differences (f(x + eps) - f(x - eps)) / 2eps of a scalar f in input i."""
    x = values[i]
    grad = torch.zeros_like(x)
    flat = grad.view(-1)
    for j in range(x.numel()):
        shifted = []
        for sign in (1.0, -1.0):
            moved = x.clone()
            moved.view(-1)[j] += sign * eps
            shifted.append(f(*values[:i], moved, *values[i + 1 :]))
        flat[j] = (shifted[0] - shifted[1]) / (2 * eps)
    return grad


def finite_difference_check(
    fn: Callable[..., Any],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-5,
) -> None:
    """minidl's gradient of sum(w * fn(inputs)) against central differences, in float64.

    Inputs follow ``check``'s conventions (``Fixed`` and non-float inputs get no gradient).
    ``w`` is a fixed random weight, so every output element counts with its own sign.
    """
    ours, _ = _leaves(inputs, torch.float64)
    out = fn(*ours)
    w = _upstream(out.shape, out.dtype)
    out.backward(w)
    plain = [x.data if isinstance(x, minidl.Tensor) else x for x in ours]

    def scalar(*values: Any) -> torch.Tensor:
        with minidl.no_grad():
            args = [minidl.Tensor(v) if isinstance(o, minidl.Tensor) else v
                    for o, v in zip(ours, values, strict=True)]
            return (fn(*args).data * w).sum()

    checked = 0
    for i, x in enumerate(ours):
        if not isinstance(x, minidl.Tensor):
            continue
        expected = numerical_gradient(scalar, plain, i, eps)
        assert x.grad is not None, f"input {i}: no gradient"
        torch.testing.assert_close(
            x.grad, expected, atol=atol, rtol=rtol,
            msg=lambda m, i=i: f"gradient of input {i} vs finite differences: {m}",
        )
        checked += 1
    assert checked, "nothing to check: no input needs a gradient"


# ----------------------------------------------------------------------------------------------
# where inputs come from: hypothesis (search, shrinking) or a seeded generator (finite differences)
# ----------------------------------------------------------------------------------------------


class Source:
    """Draws the inputs of a test case; an op's inputs are written once, as ``lambda s: ...``.

    Subclasses provide ``integers``, ``choice``, ``permutation`` and ``tensor``; shapes and dims
    are built from those here.
    """

    def integers(self, low: int, high: int) -> int:  # pragma: no cover
        raise NotImplementedError

    def choice(self, options: Sequence[Any]) -> Any:  # pragma: no cover
        raise NotImplementedError

    def permutation(self, n: int) -> list[int]:  # pragma: no cover
        raise NotImplementedError

    def tensor(
        self, shape: Sequence[int], low: float = -10.0, high: float = 10.0,
        min_magnitude: float = 0.0,
    ) -> torch.Tensor:  # pragma: no cover
        """A float64 tensor with entries in [low, high], at least min_magnitude away from 0."""
        raise NotImplementedError

    def shape(self, min_dims: int = 1, max_dims: int = 3) -> tuple[int, ...]:
        """A small shape (every size 1 to 3)."""
        return tuple(self.integers(1, 3) for _ in range(self.integers(min_dims, max_dims)))

    def broadcastable(self, n: int = 2, max_dims: int = 3) -> list[tuple[int, ...]]:
        """``n`` shapes that broadcast together: each may drop leading dims and set some to 1."""
        full = self.shape(1, max_dims)
        out = []
        for _ in range(n):
            drop = self.integers(0, len(full) - 1)
            out.append(tuple(1 if self.choice((False, True)) else d for d in full[drop:]))
        return out

    def dims(self, ndim: int) -> Any:
        """What a reduction reduces over: None (all), one dim (maybe negative) or several."""
        kind = self.choice(("all", "one", "several"))
        if kind == "all":
            return None
        if kind == "one":
            return self.integers(-ndim, ndim - 1)
        return tuple(sorted(self.permutation(ndim)[: self.integers(1, ndim)]))


class HypothesisSource(Source):
    """Inputs drawn by hypothesis (``st.data()``), so failures shrink to small cases."""

    def __init__(self, data: st.DataObject):
        self._data = data

    def integers(self, low: int, high: int) -> int:
        return self._data.draw(st.integers(low, high))

    def choice(self, options: Sequence[Any]) -> Any:
        return self._data.draw(st.sampled_from(options))

    def permutation(self, n: int) -> list[int]:
        return self._data.draw(st.permutations(range(n)))

    def tensor(self, shape, low=-10.0, high=10.0, min_magnitude=0.0):
        return self._data.draw(values(tuple(shape), low, high, min_magnitude))


class RandomSource(Source):
    """Inputs from a seeded generator: continuous values, so no ties and no point on a kink."""

    def __init__(self, seed: int = 0):
        self._rng = random.Random(seed)
        self._gen = torch.Generator().manual_seed(seed)

    def integers(self, low: int, high: int) -> int:
        return self._rng.randint(low, high)

    def choice(self, options: Sequence[Any]) -> Any:
        return self._rng.choice(list(options))

    def permutation(self, n: int) -> list[int]:
        return self._rng.sample(range(n), n)

    def tensor(self, shape, low=-10.0, high=10.0, min_magnitude=0.0):
        u = torch.rand(tuple(shape), generator=self._gen, dtype=torch.float64)
        if min_magnitude <= 0:
            return low + (high - low) * u
        sign = torch.where(torch.rand(tuple(shape), generator=self._gen) < 0.5, -1.0, 1.0)
        magnitude = min_magnitude + (max(-low, high) - min_magnitude) * u
        return (sign * magnitude).clamp(low, high).to(torch.float64)


# ----------------------------------------------------------------------------------------------
# hypothesis strategies
# ----------------------------------------------------------------------------------------------


@functools.cache  # a strategy per shape and range, built once
def values(
    shape: tuple[int, ...], low: float = -10.0, high: float = 10.0, min_magnitude: float = 0.0
) -> st.SearchStrategy[torch.Tensor]:
    """A float64 tensor of ``shape`` with hypothesis-drawn entries in [low, high].

    ``min_magnitude`` > 0 keeps entries away from zero (denominators, kinks). Drawn as a numpy
    array, which hypothesis fills far faster than element by element (repeats included: ties
    are cases too).
    """
    if min_magnitude > 0:
        magnitude = st.floats(min_magnitude, max(-low, high), allow_subnormal=False)
        element = st.tuples(st.sampled_from((-1.0, 1.0)), magnitude).map(
            lambda sm: min(max(sm[0] * sm[1], low), high)
        )
    else:
        element = st.floats(low, high, allow_nan=False, allow_subnormal=False)
    return arrays(np.float64, tuple(shape), elements=element).map(torch.from_numpy)


def torch_seed_network() -> torch.nn.Sequential:
    """The seeds' network 2-25-25-25-1 (ReLU, Sigmoid output) written in torch.nn, the reference
    that exported minidl models must load into."""
    return torch.nn.Sequential(
        torch.nn.Linear(2, 25),
        torch.nn.ReLU(),
        torch.nn.Linear(25, 25),
        torch.nn.ReLU(),
        torch.nn.Linear(25, 25),
        torch.nn.ReLU(),
        torch.nn.Linear(25, 1),
        torch.nn.Sigmoid(),
    )
