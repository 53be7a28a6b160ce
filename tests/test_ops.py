"""Every op and loss of minidl against torch (values and gradients) and against finite differences.

Each entry of OPS is one op: a lambda that runs on minidl Tensors and on torch tensors alike (or
a separate torch lambda), and how to draw its inputs from a Source. The same table feeds the
torch comparison (hypothesis draws the shapes and values; float64 within 1e-10, float32 within
1e-5) and the central finite-difference check (float64, eps 1e-6, seeded continuous inputs).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st
from oracle import (
    Fixed,
    HypothesisSource,
    RandomSource,
    Source,
    check,
    fast,
    finite_difference_check,
)

import minidl
from minidl import functional as F
from minidl import nn

REDUCTIONS = ("mean", "sum", "none")


@dataclass(frozen=True)
class Op:
    """One op: its minidl spellings (operator, method, function), how to draw inputs, and torch's.

    Every spelling in ``fns`` must give the same result; the first also runs on torch tensors
    unless ``torch_fn`` is given. All spellings are checked on the same drawn inputs.
    """

    fns: Callable[..., Any] | tuple[Callable[..., Any], ...]
    inputs: Callable[[Source], tuple]
    torch_fn: Callable[..., Any] | None = None
    oracle: bool = True  # False: random ops torch cannot reproduce (finite differences only)

    @property
    def variants(self) -> tuple[Callable[..., Any], ...]:
        return self.fns if isinstance(self.fns, tuple) else (self.fns,)

    @property
    def reference(self) -> Callable[..., Any]:
        return self.torch_fn or self.variants[0]


def one(**kw: Any) -> Callable[[Source], tuple]:
    """A single tensor of any small shape."""
    return lambda s: (s.tensor(s.shape(), **kw),)


def pair(**kw: Any) -> Callable[[Source], tuple]:
    """Two tensors of broadcast-compatible shapes; ``kw`` applies to the second."""

    def draw(s: Source) -> tuple:
        sa, sb = s.broadcastable(2)
        return s.tensor(sa), s.tensor(sb, **kw)

    return draw


def fixed(draw: Callable[[Source], tuple], i: int) -> Callable[[Source], tuple]:
    """The same inputs, with input i a plain torch tensor that needs no gradient."""
    return lambda s: tuple(Fixed(x) if j == i else x for j, x in enumerate(draw(s)))


def matmul_inputs(a_batch: tuple, a_mat: bool, b_mat: bool, b_batch: tuple) -> Callable:
    """Operands of a matmul: a is (*a_batch, n, k) or (k,), b is (*b_batch, k, m) or (k,)."""

    def draw(s: Source) -> tuple:
        n, k, m = s.integers(1, 4), s.integers(1, 4), s.integers(1, 4)
        a_shape = (*a_batch, n, k) if a_mat else (k,)
        b_shape = (*b_batch, k, m) if b_mat else (k,)
        return s.tensor(a_shape), s.tensor(b_shape)

    return draw


def linear_inputs(lead: tuple, bias: bool) -> Callable:
    def draw(s: Source) -> tuple:
        n_in, n_out = s.integers(1, 4), s.integers(1, 4)
        x = s.tensor((*lead, n_in))
        w = s.tensor((n_out, n_in))
        return (x, w, s.tensor((n_out,))) if bias else (x, w)

    return draw


def reduction_inputs(s: Source) -> tuple:
    shape = s.shape(1, 4)
    return s.tensor(shape), s.dims(len(shape)), s.choice((False, True))


def reduce(method: str) -> Callable:
    """x.sum / x.mean / x.amax over drawn dims, written so torch takes the same call."""

    def fn(x, dim, keepdim):
        return getattr(x, method)(dim, keepdim=keepdim)

    return fn


def two_dims(s: Source) -> tuple:
    shape = s.shape(2, 4)
    d0, d1 = s.permutation(len(shape))[:2]
    return s.tensor(shape), d0 - len(shape) * s.integers(0, 1), d1


def permuted(s: Source) -> tuple:
    shape = s.shape(1, 4)
    return s.tensor(shape), tuple(s.permutation(len(shape)))


def reshaped(s: Source) -> tuple:
    shape = s.shape(1, 4)
    n = math.prod(shape)
    target = s.choice(((-1,), (n, 1), (1, -1), tuple(reversed(shape)), (*shape, 1)))
    return s.tensor(shape), target


def int_index(s: Source) -> tuple:
    """An int64 index tensor into dim 0, with repeats."""
    shape = s.shape(1, 3)
    count = s.integers(1, 6)
    index = torch.tensor([s.integers(0, shape[0] - 1) for _ in range(count)])
    return s.tensor(shape), index


def bool_mask(full: bool) -> Callable:
    """A boolean mask over the whole tensor or over dim 0."""

    def draw(s: Source) -> tuple:
        shape = s.shape(1, 3)
        mask_shape = shape if full else shape[:1]
        mask = torch.tensor([s.choice((False, True)) for _ in range(math.prod(mask_shape))])
        return s.tensor(shape), mask.reshape(mask_shape)

    return draw


def cat_inputs(s: Source) -> tuple:
    shape = list(s.shape(1, 3))
    dim = s.integers(-len(shape), len(shape) - 1)
    parts = []
    for _ in range(s.integers(1, 3)):
        shape[dim] = s.integers(1, 3)
        parts.append(s.tensor(tuple(shape)))
    return dim, *parts


def logits_and_classes(s: Source) -> tuple:
    n, c = s.integers(1, 5), s.integers(1, 5)
    target = torch.tensor([s.integers(0, c - 1) for _ in range(n)])
    return s.tensor((n, c)), Fixed(target), s.choice(REDUCTIONS)


def logits_and_probabilities(normalised: bool) -> Callable:
    def draw(s: Source) -> tuple:
        n, c = s.integers(1, 5), s.integers(1, 5)
        target = s.tensor((n, c), 0.0, 1.0)
        if normalised:
            target = target.softmax(1)
        return s.tensor((n, c)), target, s.choice(REDUCTIONS)

    return draw


def same_shape(low: float = -10.0, high: float = 10.0) -> Callable:
    """A prediction in [low, high] and a target in [0, 1] of the same shape, and a reduction."""

    def draw(s: Source) -> tuple:
        shape = s.shape(1, 3)
        return s.tensor(shape, low, high), s.tensor(shape, 0.0, 1.0), s.choice(REDUCTIONS)

    return draw


def loss(module: type, function: Callable, theirs: type, inputs: Callable) -> Op:
    """A loss as minidl's module and function, against torch's module, at the drawn reduction."""
    return Op(
        (lambda x, t, r: module(reduction=r)(x, t), function),
        inputs,
        lambda x, t, r: theirs(reduction=r)(x, t),
    )


def seeded_dropout(x, p=0.3):
    # a fresh generator with a fixed seed: the same mask every call, as finite differences need
    return F.dropout(x, p, generator=torch.Generator().manual_seed(7))


def pow_pair(s: Source) -> tuple:
    """A positive base and a moderate exponent (so the power stays within about 1e3)."""
    sa, sb = s.broadcastable(2)
    return s.tensor(sa, **POSITIVE), s.tensor(sb, -3.0, 3.0)


def int_index_dim1(s: Source) -> tuple:
    shape = s.shape(2, 3)
    index = torch.tensor([s.integers(0, shape[1] - 1) for _ in range(s.integers(1, 5))])
    return s.tensor(shape), index


MATRICES = matmul_inputs((), True, True, ())
MATMUL = (lambda a, b: a @ b, lambda a, b: a.matmul(b), F.matmul)
POSITIVE = {"low": 0.1, "high": 5.0}
AWAY_FROM_ZERO = {"min_magnitude": 0.5}

OPS: dict[str, Op] = {
    # elementwise arithmetic, broadcasting: operator, method and function spellings
    "add": Op((lambda a, b: a + b, lambda a, b: a.add(b), F.add), pair()),
    "sub": Op((lambda a, b: a - b, lambda a, b: a.sub(b), F.sub), pair()),
    "mul": Op((lambda a, b: a * b, lambda a, b: a.mul(b), F.mul), pair()),
    "div": Op((lambda a, b: a / b, lambda a, b: a.div(b), F.div), pair(**AWAY_FROM_ZERO)),
    "neg": Op((lambda a: -a, lambda a: a.neg(), F.neg), one()),
    "pow_2": Op(lambda a: a**2, one()),
    "pow_3": Op((lambda a: a**3, lambda a: a.pow(3), lambda a: F.pow(a, 3)), one()),
    "pow_0": Op(lambda a: a**0, one()),
    "pow_minus_1": Op(lambda a: a**-1, one(**AWAY_FROM_ZERO)),
    "pow_half": Op(lambda a: a**0.5, one(**POSITIVE)),
    "pow_minus_1.5": Op(lambda a: a**-1.5, one(**POSITIVE)),
    "pow_tensor": Op((lambda a, b: a**b, lambda a, b: a.pow(b), F.pow), pow_pair),
    # Python operators with numbers and plain torch tensors on either side
    "number_times": Op((lambda a: 2 * a, lambda a: a * 2), one()),
    "number_plus": Op((lambda a: 1.5 + a, lambda a: a + 1.5), one()),
    "number_minus": Op(lambda a: 1 - a, one()),
    "minus_number": Op(lambda a: a - 0.5, one()),
    "number_over": Op(lambda a: 1 / a, one(**AWAY_FROM_ZERO)),
    "over_number": Op(lambda a: a / 4, one()),
    "number_pow": Op(lambda a: 2**a, one()),
    "torch_plus": Op((lambda t, a: t + a, lambda t, a: a + t), fixed(pair(), 0)),
    "torch_minus": Op(lambda t, a: t - a, fixed(pair(), 0)),
    "minus_torch": Op(lambda a, t: a - t, fixed(pair(), 1)),
    "torch_times": Op((lambda t, a: t * a, lambda t, a: a * t), fixed(pair(), 0)),
    "torch_over": Op(lambda t, a: t / a, fixed(pair(**AWAY_FROM_ZERO), 0)),
    "over_torch": Op(lambda a, t: a / t, fixed(pair(**AWAY_FROM_ZERO), 1)),
    "torch_pow": Op(lambda t, a: t**a, fixed(pow_pair, 0)),
    "torch_matmul": Op(lambda t, a: t @ a, fixed(MATRICES, 0)),
    "matmul_torch": Op(lambda a, t: a @ t, fixed(MATRICES, 1)),
    # matrix products
    "matmul_1d_1d": Op(MATMUL, matmul_inputs((), False, False, ())),
    "matmul_1d_2d": Op(MATMUL, matmul_inputs((), False, True, ())),
    "matmul_2d_1d": Op(MATMUL, matmul_inputs((), True, False, ())),
    "matmul_2d_2d": Op(MATMUL, MATRICES),
    "matmul_3d_2d": Op(MATMUL, matmul_inputs((3,), True, True, ())),
    "matmul_2d_3d": Op(MATMUL, matmul_inputs((), True, True, (2,))),
    "matmul_batch_broadcast": Op(MATMUL, matmul_inputs((2, 1), True, True, (3,))),
    "matmul_3d_1d": Op(MATMUL, matmul_inputs((2,), True, False, ())),
    "matmul_1d_3d": Op(MATMUL, matmul_inputs((), False, True, (2,))),
    "linear_2d": Op(F.linear, linear_inputs((5,), bias=True), TF.linear),
    "linear_2d_no_bias": Op(F.linear, linear_inputs((5,), bias=False), TF.linear),
    "linear_3d": Op(F.linear, linear_inputs((2, 3), bias=True), TF.linear),
    "linear_3d_no_bias": Op(F.linear, linear_inputs((2, 3), bias=False), TF.linear),
    "linear_1d": Op(F.linear, linear_inputs((), bias=True), TF.linear),
    "linear_relu": Op(lambda x, w, b: F.relu(F.linear(x, w, b)),
                      linear_inputs((5,), bias=True), lambda x, w, b: TF.linear(x, w, b).relu()),
    "linear_tanh_3d": Op(lambda x, w, b: F.tanh(F.linear(x, w, b)),
                         linear_inputs((2, 3), bias=True),
                         lambda x, w, b: TF.linear(x, w, b).tanh()),
    "linear_sigmoid_no_bias": Op(lambda x, w: F.sigmoid(F.linear(x, w)),
                                 linear_inputs((5,), bias=False),
                                 lambda x, w: TF.linear(x, w).sigmoid()),
    # reductions: all, one dim (maybe negative), several dims; keepdim or not
    "sum": Op((reduce("sum"), F.sum), reduction_inputs),
    "mean": Op((reduce("mean"), F.mean), reduction_inputs),
    "amax": Op((reduce("amax"), F.amax), reduction_inputs),
    "sum_all": Op(lambda x: x.sum(), one()),
    "mean_all": Op(lambda x: x.mean(), one()),
    "amax_all": Op(lambda x: x.amax(), one()),
    # shape
    "reshape": Op((lambda x, shape: x.reshape(shape), lambda x, shape: x.reshape(*shape),
                   lambda x, shape: x.view(shape), F.reshape), reshaped),
    "flatten": Op(lambda x: x.flatten(), one()),
    "flatten_1": Op(lambda x: x.flatten(1), lambda s: (s.tensor(s.shape(2, 4)),)),
    "transpose": Op((lambda x, d0, d1: x.transpose(d0, d1), F.transpose), two_dims),
    "transpose_2d": Op((lambda x: x.T, lambda x: x.t(), lambda x: F.transpose(x, 1, 0)),
                       lambda s: (s.tensor(s.shape(2, 2)),)),
    "permute": Op((lambda x, dims: x.permute(*dims), lambda x, dims: x.permute(dims),
                   F.permute), permuted),
    # indexing
    "index_int": Op(lambda x: x[0], one()),
    "index_negative_int": Op(lambda x: x[-1], one()),
    "index_slice": Op(lambda x: x[1:], one()),
    "index_step": Op(lambda x: x[::2], one()),
    "index_2d": Op(lambda x: x[:, 1:3], lambda s: (s.tensor(s.shape(2, 3)),)),
    "index_ellipsis": Op(lambda x: x[..., 0], one()),
    "index_int_and_slice": Op(lambda x: x[-1, ::2], lambda s: (s.tensor(s.shape(2, 3)),)),
    "index_int_tensor": Op((lambda x, i: x[i], lambda x, i: x[i.tolist()],
                            lambda x, i: x[minidl.Tensor(i)]), int_index),
    "index_int_tensor_dim1": Op(lambda x, i: x[:, i], int_index_dim1),
    "index_mask": Op(lambda x, m: x[m], bool_mask(full=True)),
    "index_mask_rows": Op(lambda x, m: x[m], bool_mask(full=False)),
    "cat": Op(lambda dim, *xs: F.cat(list(xs), dim), cat_inputs,
              lambda dim, *xs: torch.cat(list(xs), dim)),
    # elementwise functions
    "exp": Op((lambda x: x.exp(), F.exp), one()),
    "log": Op((lambda x: x.log(), F.log), one(**POSITIVE)),
    "sqrt": Op((lambda x: x.sqrt(), F.sqrt), one(**POSITIVE)),
    "abs": Op((lambda x: x.abs(), F.abs), one()),
    "relu": Op((lambda x: x.relu(), F.relu, lambda x: nn.ReLU()(x)), one()),
    "leaky_relu": Op((F.leaky_relu, lambda x: nn.LeakyReLU()(x)), one(), TF.leaky_relu),
    "leaky_relu_0.2": Op((lambda x: F.leaky_relu(x, 0.2), lambda x: nn.LeakyReLU(0.2)(x)),
                         one(), lambda x: TF.leaky_relu(x, 0.2)),
    "tanh": Op((lambda x: x.tanh(), F.tanh, lambda x: nn.Tanh()(x)), one()),
    "sigmoid": Op((lambda x: x.sigmoid(), F.sigmoid, lambda x: nn.Sigmoid()(x)), one()),
    "sigmoid_large": Op(lambda x: x.sigmoid(), one(low=-1000.0, high=1000.0)),
    "elu": Op((F.elu, lambda x: nn.ELU()(x)), one(), TF.elu),
    "elu_0.5": Op((lambda x: F.elu(x, 0.5), lambda x: nn.ELU(alpha=0.5)(x)), one(),
                  lambda x: TF.elu(x, alpha=0.5)),
    "elu_large": Op(F.elu, one(low=-1000.0, high=1000.0), TF.elu),
    "gelu": Op((F.gelu, lambda x: nn.GELU()(x)), one(), TF.gelu),
    "gelu_large": Op(F.gelu, one(low=-1000.0, high=1000.0), TF.gelu),
    "silu": Op((F.silu, lambda x: nn.SiLU()(x)), one(), TF.silu),
    "silu_large": Op(F.silu, one(low=-1000.0, high=1000.0), TF.silu),
    "softplus": Op((F.softplus, lambda x: nn.Softplus()(x)), one(), TF.softplus),
    "softplus_large": Op(F.softplus, one(low=-1000.0, high=1000.0), TF.softplus),
    # beta * x crosses the threshold inside the drawn range: both branches are checked
    "softplus_beta_threshold": Op(
        (lambda x: F.softplus(x, 2.0, 5.0), lambda x: nn.Softplus(beta=2.0, threshold=5.0)(x)),
        one(), lambda x: TF.softplus(x, beta=2.0, threshold=5.0),
    ),
    "sine": Op((F.sin, lambda x: nn.Sine()(x)), one(), torch.sin),
    "softmax": Op((lambda x: x.softmax(-1), F.softmax, lambda x: nn.Softmax()(x)), one()),
    "softmax_dim0": Op((lambda x: x.softmax(0), lambda x: F.softmax(x, 0)), one()),
    "softmax_large": Op(lambda x: x.softmax(-1), one(low=-1000.0, high=1000.0)),
    "log_softmax": Op((lambda x: x.log_softmax(-1), F.log_softmax,
                       lambda x: nn.LogSoftmax()(x)), one()),
    "log_softmax_dim0": Op((lambda x: x.log_softmax(0), lambda x: F.log_softmax(x, 0)), one()),
    "log_softmax_large": Op(lambda x: x.log_softmax(-1), one(low=-1000.0, high=1000.0)),
    "dropout_seeded": Op(seeded_dropout, one(), oracle=False),
    "dropout_identity": Op((lambda x: F.dropout(x, 0.0), lambda x: F.dropout(x, 0.5, False)),
                           one(), lambda x: TF.dropout(x, 0.0)),
    # losses: module and function, every reduction, gradients for the targets too
    "MSELoss": loss(nn.MSELoss, F.mse_loss, torch.nn.MSELoss, same_shape()),
    "L1Loss": loss(nn.L1Loss, F.l1_loss, torch.nn.L1Loss, same_shape()),
    "HuberLoss": loss(nn.HuberLoss, F.huber_loss, torch.nn.HuberLoss, same_shape()),
    "HuberLoss_delta_2.5": Op(
        (lambda x, t, r: nn.HuberLoss(reduction=r, delta=2.5)(x, t),
         lambda x, t, r: F.huber_loss(x, t, r, delta=2.5)),
        same_shape(), lambda x, t, r: torch.nn.HuberLoss(reduction=r, delta=2.5)(x, t),
    ),
    "BCELoss": loss(nn.BCELoss, F.binary_cross_entropy, torch.nn.BCELoss, same_shape(0.02, 0.98)),
    "CrossEntropyLoss_classes": loss(nn.CrossEntropyLoss, F.cross_entropy,
                                     torch.nn.CrossEntropyLoss, logits_and_classes),
    "CrossEntropyLoss_probabilities": loss(nn.CrossEntropyLoss, F.cross_entropy,
                                           torch.nn.CrossEntropyLoss,
                                           logits_and_probabilities(normalised=True)),
    "CrossEntropyLoss_unnormalised_targets": loss(nn.CrossEntropyLoss, F.cross_entropy,
                                                  torch.nn.CrossEntropyLoss,
                                                  logits_and_probabilities(normalised=False)),
}


ORACLE_OPS = sorted(name for name, op in OPS.items() if op.oracle)


@pytest.mark.parametrize("name", ORACLE_OPS)
@fast
@given(data=st.data())
def test_op_matches_torch(name: str, data: st.DataObject) -> None:
    op = OPS[name]
    inputs = op.inputs(HypothesisSource(data))
    for fn in op.variants:
        check(fn, *inputs, torch_fn=op.reference)


@pytest.mark.parametrize("name", sorted(OPS))
def test_gradient_matches_finite_differences(name: str) -> None:
    op = OPS[name]
    for seed in range(3):
        inputs = op.inputs(RandomSource(seed))
        for fn in op.variants:
            finite_difference_check(fn, *inputs)


# ---------------------------------------------------------------------------------------------
# numerics at the edges
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [F.sigmoid, F.tanh], ids=["sigmoid", "tanh"])
def test_saturating_activations_stay_finite_at_large_inputs(fn: Callable) -> None:
    x = torch.tensor([-1000.0, -800.0, -100.0, 0.0, 100.0, 800.0, 1000.0], dtype=torch.float64)
    check(fn, x, torch_fn=getattr(torch, fn.__name__))
    ours = minidl.Tensor(x.float(), requires_grad=True)
    out = fn(ours)
    out.sum().backward()
    assert torch.isfinite(out.data).all() and torch.isfinite(ours.grad).all()


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_of_huge_logits_is_stable(dim: int) -> None:
    x = torch.tensor([[1000.0, 0.0, -1000.0], [1e4, 1e4 + 1, 1e4 - 1]], dtype=torch.float64)
    for dtype in (torch.float64, torch.float32):
        for ours, theirs in ((F.softmax, torch.softmax), (F.log_softmax, torch.log_softmax)):
            t = minidl.Tensor(x.to(dtype), requires_grad=True)
            out = ours(t, dim)
            out.backward(torch.ones_like(out.data))
            assert torch.isfinite(out.data).all() and torch.isfinite(t.grad).all()
            check(lambda a, o=ours, d=dim: o(a, d), x.to(dtype),
                  torch_fn=lambda a, th=theirs, d=dim: th(a, d), dtypes=(dtype,))


def test_bce_at_exact_zero_and_one_matches_torch_clamp() -> None:
    p = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.5], dtype=torch.float64)
    t = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0], dtype=torch.float64)
    for r in REDUCTIONS:
        check(lambda a, b, r=r: F.binary_cross_entropy(a, b, r), p, Fixed(t),
              torch_fn=lambda a, b, r=r: TF.binary_cross_entropy(a, b, reduction=r))
    # the clamp: log 0 counts as -100, so a confidently wrong prediction costs exactly 100
    per_element = F.binary_cross_entropy(minidl.Tensor(p), t, "none").data
    assert per_element.tolist() == pytest.approx([0.0, 0.0, 100.0, 100.0, -torch.log(
        torch.tensor(0.5, dtype=torch.float64)).item()])


@pytest.mark.parametrize("exponent", [0, 0.0, 2, 3])
def test_pow_at_zero_base_matches_torch(exponent: float) -> None:
    x = torch.tensor([0.0, 1.0, -2.0], dtype=torch.float64)
    check(lambda a, e=exponent: a**e, x)


def test_pow_tensor_exponent_at_zero_base_matches_torch() -> None:
    base = torch.tensor([0.0, 0.0, 2.0], dtype=torch.float64)
    exponent = torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64)
    check(lambda a, b: a**b, base, exponent)


@pytest.mark.parametrize("method", ["sum", "mean", "amax"])
def test_reduction_over_everything_can_keep_dims(method: str) -> None:
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    check(lambda a: getattr(a, method)(None, keepdim=True), x)
    check(lambda a: getattr(a, method)((0, 1, 2), keepdim=True), x)


def test_amax_splits_gradient_between_ties_as_torch() -> None:
    x = torch.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], dtype=torch.float64)
    check(lambda a: a.amax(), x)
    check(lambda a: a.amax(1), x)
    check(lambda a: a.amax(0, keepdim=True), x)


def test_index_with_repeats_accumulates_gradient() -> None:
    x = torch.arange(4.0, dtype=torch.float64)
    index = torch.tensor([0, 0, 0, 2])
    check(lambda a: a[index], x)
    ours = minidl.Tensor(x, requires_grad=True)
    ours[index].sum().backward()
    assert ours.grad.tolist() == [3.0, 0.0, 1.0, 0.0]


# ---------------------------------------------------------------------------------------------
# dropout: random, so checked against its definition rather than torch's own random stream
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.9])
def test_dropout_zeros_about_p_and_scales_the_rest(p: float) -> None:
    torch.manual_seed(0)
    x = torch.rand(200_000, dtype=torch.float64) + 0.5  # never zero
    t = minidl.Tensor(x, requires_grad=True)
    out = F.dropout(t, p)
    kept = out.data != 0
    assert abs(1 - kept.double().mean().item() - p) < 0.01
    torch.testing.assert_close(out.data[kept], x[kept] / (1 - p), atol=1e-12, rtol=1e-12)
    g = torch.randn_like(x)
    out.backward(g)
    torch.testing.assert_close(t.grad, g * kept / (1 - p), atol=1e-12, rtol=1e-12)


def test_dropout_draws_a_new_mask_each_call() -> None:
    torch.manual_seed(0)
    x = minidl.Tensor(torch.ones(1000))
    assert not torch.equal(F.dropout(x, 0.5).data, F.dropout(x, 0.5).data)


def test_dropout_with_p_zero_or_in_eval_is_the_identity() -> None:
    x = torch.randn(4, 5, dtype=torch.float64)
    for out in (F.dropout(minidl.Tensor(x), 0.0), F.dropout(minidl.Tensor(x), 0.7, False)):
        assert torch.equal(out.data, x)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_rejects_p_outside_unit_interval(p: float) -> None:
    with pytest.raises(ValueError, match="dropout"):
        F.dropout(minidl.Tensor(torch.ones(3)), p)
