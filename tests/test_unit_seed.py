"""backward()'s unit seed: backward() with no argument on a loss seeds it with dL/dL = 1.

Gradients, their dtypes and shapes must be torch autograd's, in float32 and float64, whether the
loss's input is a leaf or the output of a network, with an explicit gradient and retain_graph."""

from __future__ import annotations

import pytest
import torch

import minidl
from minidl import functional as F
from minidl import nn

TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}


def _data(kind: str, dtype: torch.dtype, n: int = 5):
    """(prediction, target, torch loss function, minidl loss function) of one loss kind."""
    gen = torch.Generator().manual_seed(7)
    if kind == "mse":
        return torch.randn(n, 3, generator=gen, dtype=dtype), torch.randn(
            n, 3, generator=gen, dtype=dtype
        ), torch.nn.functional.mse_loss, F.mse_loss
    if kind == "l1":
        return torch.randn(n, 3, generator=gen, dtype=dtype), torch.randn(
            n, 3, generator=gen, dtype=dtype
        ), torch.nn.functional.l1_loss, F.l1_loss
    if kind == "bce":
        p = torch.rand(n, 3, generator=gen, dtype=dtype) * 0.9 + 0.05
        t = (torch.rand(n, 3, generator=gen, dtype=dtype) > 0.5).to(dtype)
        return p, t, torch.nn.functional.binary_cross_entropy, F.binary_cross_entropy
    if kind == "ce":
        logits = torch.randn(n, 4, generator=gen, dtype=dtype)
        return logits, torch.randint(0, 4, (n,), generator=gen), (
            torch.nn.functional.cross_entropy
        ), F.cross_entropy
    if kind == "ce_soft":
        logits = torch.randn(n, 4, generator=gen, dtype=dtype)
        soft = torch.softmax(torch.randn(n, 4, generator=gen, dtype=dtype), 1)
        return logits, soft, torch.nn.functional.cross_entropy, F.cross_entropy
    raise AssertionError(kind)


def _leaf_pair(x: torch.Tensor) -> tuple[minidl.Tensor, torch.Tensor]:
    """x as a minidl leaf and as a torch leaf, both requiring a gradient."""
    return minidl.Tensor(x.clone(), requires_grad=True), x.clone().requires_grad_(True)


KINDS = ("mse", "l1", "bce", "ce", "ce_soft")
DTYPES = (torch.float32, torch.float64)


def _close(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype, what: str) -> None:
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    tol = TOLERANCE[dtype]
    torch.testing.assert_close(actual, expected, atol=tol, rtol=tol, msg=lambda m: f"{what}: {m}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ("mean", "sum"))
@pytest.mark.parametrize("kind", KINDS)
def test_unit_seed_gives_torchs_gradients(kind: str, reduction: str, dtype: torch.dtype) -> None:
    x, t, theirs_fn, ours_fn = _data(kind, dtype)
    target_grad = t.is_floating_point() and kind != "bce"  # torch's BCE has no target gradient
    ours_x = minidl.Tensor(x.clone(), requires_grad=True)
    ours_t = minidl.Tensor(t.clone(), requires_grad=True) if target_grad else t
    theirs_x = x.clone().requires_grad_(True)
    theirs_t = t.clone().requires_grad_(True) if target_grad else t
    loss = ours_fn(ours_x, ours_t, reduction=reduction)
    expected = theirs_fn(theirs_x, theirs_t, reduction=reduction)
    loss.backward()
    expected.backward()
    _close(loss.data, expected.detach(), dtype, "loss")
    _close(ours_x.grad, theirs_x.grad, dtype, "d/d input")
    if target_grad:
        _close(ours_t.grad, theirs_t.grad, dtype, "d/d target")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
def test_unit_seed_of_a_single_element_unreduced_loss(kind: str, dtype: torch.dtype) -> None:
    # reduction="none" on one sample: the output has one element, so backward() needs no grad
    x, t, theirs_fn, ours_fn = _data(kind, dtype, n=1)
    if kind in ("mse", "l1", "bce"):
        x, t = x[:, :1], t[:, :1]
    ours_x, theirs_x = _leaf_pair(x)
    loss = ours_fn(ours_x, t, reduction="none")
    expected = theirs_fn(theirs_x, t, reduction="none")
    assert loss.shape == expected.shape and loss.numel() == 1
    loss.backward()
    expected.backward()
    _close(ours_x.grad, theirs_x.grad, dtype, "d/d input")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("how", ("explicit gradient", "retain_graph twice"))
def test_explicit_gradient_and_retain_graph_still_work(
    how: str, kind: str, dtype: torch.dtype
) -> None:
    x, t, theirs_fn, ours_fn = _data(kind, dtype)
    ours_x, theirs_x = _leaf_pair(x)
    if how == "explicit gradient":
        seed = torch.tensor(-2.5, dtype=dtype)
        ours_fn(ours_x, t).backward(seed.clone())
        theirs_fn(theirs_x, t).backward(seed.clone())
        _close(ours_x.grad, theirs_x.grad, dtype, "d/d input")
        return
    # through an op before the loss, so the second backward walks a graph that was kept; the
    # gradients of both walks accumulate
    squash = "sigmoid" if kind == "bce" else "exp"  # BCE wants probabilities
    loss = ours_fn(getattr(ours_x, squash)(), t)
    expected = theirs_fn(getattr(theirs_x, squash)(), t)
    for retain in (True, False):
        loss.backward(retain_graph=retain)
        expected.backward(retain_graph=retain)
    _close(ours_x.grad, theirs_x.grad, dtype, "d/d input, twice")
    with pytest.raises(minidl.GraphFreedError):
        loss.backward()


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_network_trained_with_the_unit_seed_matches_torch(dtype: torch.dtype) -> None:
    # the seed's path: MSE's gradient flows through a node per layer into the parameters,
    # which get gradients of torch's values and dtype
    ours = nn.Sequential(nn.Linear(2, 5), nn.ReLU(), nn.Linear(5, 1), nn.Sigmoid()).to(dtype)
    theirs = torch.nn.Sequential(
        torch.nn.Linear(2, 5), torch.nn.ReLU(), torch.nn.Linear(5, 1), torch.nn.Sigmoid()
    ).to(dtype)
    ours.load_state_dict(theirs.state_dict())
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(8, 2, generator=gen, dtype=dtype)
    y = torch.rand(8, 1, generator=gen, dtype=dtype)
    nn.MSELoss()(ours(x), y).backward()
    torch.nn.MSELoss()(theirs(x), y).backward()
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        _close(p.grad, q.grad, dtype, name)
