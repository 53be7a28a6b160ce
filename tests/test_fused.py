"""Sequential's fused LinearStack against torch autograd: the shortcuts it takes for speed
(transposed weight views kept between steps, activation gradients written over tensors of its
own) must never show: replaced weights are seen, a caller's gradient is never written over."""

from __future__ import annotations

import copy

import pytest
import torch

import minidl
from minidl import nn


def mlp(lib, last: str = "Sigmoid"):
    """Linear layers with every fusable activation, so one LinearStack records the whole body."""
    return lib.Sequential(
        lib.Linear(2, 6), lib.ReLU(), lib.Linear(6, 5), lib.Tanh(), lib.Linear(5, 4),
        getattr(lib, last)(),
    )


def pair(last: str = "Sigmoid"):
    """The same network in minidl and torch, float64, torch's weights in both."""
    ours, theirs = mlp(nn, last).double(), mlp(torch.nn, last).double()
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def assert_same_gradients(ours, theirs) -> None:
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-10, rtol=1e-10, msg=name)


def test_the_body_is_one_fused_node() -> None:
    ours, _ = pair()
    out = ours(torch.randn(3, 2, dtype=torch.float64))
    assert repr(out.grad_fn) == "<LinearStackBackward>"


@pytest.mark.parametrize("last", ["ReLU", "Tanh", "Sigmoid"])
def test_a_gradient_from_outside_is_never_written_over(last) -> None:
    ours, theirs = pair(last)
    x = torch.randn(7, 2, dtype=torch.float64)
    g = torch.randn(7, 4, dtype=torch.float64)
    given = g.clone()
    xo = minidl.Tensor(x, requires_grad=True)
    xt = x.clone().requires_grad_(True)
    ours(xo).backward(g)
    theirs(xt).backward(g.clone())
    assert torch.equal(g, given)
    torch.testing.assert_close(xo.grad, xt.grad, atol=1e-10, rtol=1e-10)
    assert_same_gradients(ours, theirs)


def test_training_steps_match_torch() -> None:
    ours, theirs = pair()
    opt_o = minidl.optim.SGD(ours.parameters(), lr=0.5)
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.5)
    x, y = torch.randn(8, 2, dtype=torch.float64), torch.rand(8, 4, dtype=torch.float64)
    for _ in range(5):  # the kept views of the weights follow the in-place updates
        runs = ((ours, opt_o, nn.MSELoss()), (theirs, opt_t, torch.nn.MSELoss()))
        for model, opt, loss_fn in runs:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
    assert_same_gradients(ours, theirs)
    torch.testing.assert_close(ours(x).data, theirs(x).detach(), atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize(
    "replace",
    [
        lambda ours: setattr(ours[2].weight, "data", torch.randn(5, 6, dtype=torch.float64)),
        lambda ours: setattr(ours[2], "weight", nn.Linear(6, 5).double().weight),
        lambda ours: ours.load_state_dict({k: v * 2 for k, v in ours.state_dict().items()}),
    ],
    ids=["new p.data", "new Parameter", "load_state_dict"],
)
def test_replaced_weights_are_seen_after_a_step(replace) -> None:
    ours, theirs = pair()
    x = torch.randn(4, 2, dtype=torch.float64)
    opt = minidl.optim.SGD(ours.parameters(), lr=0.1)
    nn.MSELoss()(ours(x), torch.zeros(4, 4, dtype=torch.float64)).backward()
    opt.step()
    replace(ours)
    theirs.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ours(x).data, theirs(x).detach(), atol=1e-10, rtol=1e-10)


def test_a_dtype_change_is_seen() -> None:
    ours, theirs = pair()
    x = torch.randn(4, 2)
    ours(x.double())
    ours.float()
    theirs.float()
    out = ours(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.data, theirs(x).detach(), atol=1e-5, rtol=1e-5)


def test_a_deep_copy_follows_its_own_weights() -> None:
    ours, _ = pair()
    x = torch.randn(4, 2, dtype=torch.float64)
    before = ours(x).data.clone()
    twin = copy.deepcopy(ours)
    with torch.no_grad():
        for p in twin.parameters():
            p.data.mul_(0.5)
    reference = mlp(torch.nn).double()
    reference.load_state_dict(twin.state_dict())
    torch.testing.assert_close(twin(x).data, reference(x).detach(), atol=1e-10, rtol=1e-10)
    assert torch.equal(ours(x).data, before)


def _stack_inputs(dtype=torch.float64):
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(4, 3, generator=gen, dtype=dtype)
    w1 = torch.randn(5, 3, generator=gen, dtype=dtype)
    b1 = torch.randn(5, generator=gen, dtype=dtype)
    w2 = torch.randn(2, 5, generator=gen, dtype=dtype)
    return x, w1, b1, w2


@pytest.mark.parametrize("frozen", (False, True))
@pytest.mark.parametrize("x_kind", ("leaf", "constant", "torch requiring grad"))
def test_linear_stack_records_like_separate_ops(x_kind: str, frozen: bool) -> None:
    # linear_stack records its node itself (Function.apply written out): inputs that need no
    # gradient (a frozen weight, a constant x, a torch tensor of torch's autograd) get none
    x, w1, b1, w2 = _stack_inputs()
    ours_w1 = minidl.Tensor(w1.clone(), requires_grad=not frozen)
    ours_b1, ours_w2 = (minidl.Tensor(t.clone(), requires_grad=True) for t in (b1, w2))
    theirs = [t.clone().requires_grad_(True) for t in (w1, b1, w2)]
    theirs[0].requires_grad_(not frozen)
    if x_kind == "leaf":
        ours_x, theirs_x = minidl.Tensor(x.clone(), requires_grad=True), x.clone().requires_grad_()
    elif x_kind == "constant":
        ours_x, theirs_x = x, x
    else:
        ours_x, theirs_x = x.clone().requires_grad_(), x.clone()
    out = minidl.functional.linear_stack(
        ours_x, [ours_w1, ours_b1, ours_w2, None], (minidl.functional.Tanh, None)
    )
    expected = torch.tanh(theirs_x @ theirs[0].t() + theirs[1]) @ theirs[2].t()
    torch.testing.assert_close(out.data, expected.detach())
    (out * out).sum().backward()
    (expected * expected).sum().backward()
    if x_kind == "torch requiring grad":
        assert ours_x.grad is None  # detached: torch's autograd never saw minidl's work
    if x_kind == "leaf":
        torch.testing.assert_close(ours_x.grad, theirs_x.grad)
    assert (ours_w1.grad is None) == frozen
    for mine, ref in zip((ours_w1, ours_b1, ours_w2), theirs, strict=True):
        if ref.requires_grad:
            torch.testing.assert_close(mine.grad, ref.grad)
    assert not out.data.requires_grad


def test_linear_stack_of_constants_or_under_no_grad_records_nothing() -> None:
    x, w1, b1, w2 = _stack_inputs()
    params = [w1, b1, w2, None]
    assert minidl.functional.linear_stack(x, params, (None, None)).grad_fn is None
    leaf = minidl.Tensor(w1, requires_grad=True)
    with minidl.no_grad():
        out = minidl.functional.linear_stack(x, [leaf, b1, w2, None], (None, None))
    assert out.grad_fn is None and not out.requires_grad


def test_the_unit_seed_does_not_touch_the_models_output() -> None:
    # MSE's backward writes its gradient over its own saved difference, never over the output
    ours, _ = pair()
    x, y = torch.randn(6, 2, dtype=torch.float64), torch.rand(6, 4, dtype=torch.float64)
    out = ours(x)
    kept = out.data.clone()
    nn.MSELoss()(out, y).backward()
    assert torch.equal(out.data, kept)


@pytest.mark.parametrize("target_kind", ("plain", "torch requiring grad", "minidl leaf"))
def test_mse_loss_records_every_kind_of_target_like_torch(target_kind: str) -> None:
    # mse_loss records a plain target's case itself; the others go through Function.apply
    gen = torch.Generator().manual_seed(2)
    x, t = torch.randn(4, 3, generator=gen), torch.randn(4, 3, generator=gen)
    ours_x, theirs_x = minidl.Tensor(x.clone(), requires_grad=True), x.clone().requires_grad_()
    ours_t = {"plain": t, "torch requiring grad": t.clone().requires_grad_()}.get(
        target_kind, minidl.Tensor(t.clone(), requires_grad=True)
    )
    theirs_t = t.clone().requires_grad_(target_kind == "minidl leaf")
    loss = minidl.functional.mse_loss(ours_x, ours_t)
    expected = torch.nn.functional.mse_loss(theirs_x, theirs_t)
    loss.backward()
    expected.backward()
    torch.testing.assert_close(loss.data, expected.detach())
    torch.testing.assert_close(ours_x.grad, theirs_x.grad)
    if target_kind == "minidl leaf":
        torch.testing.assert_close(ours_t.grad, theirs_t.grad)
    elif target_kind == "torch requiring grad":
        assert ours_t.grad is None  # torch's autograd never saw minidl's work
    assert not loss.data.requires_grad


def test_a_gradient_the_stack_owned_once_does_not_make_a_callers_its_own() -> None:
    # MSE hands the stack a gradient of its own (written over in place); when the same node is
    # later the root of backward(g), the caller's g must stay untouched
    ours, theirs = pair()
    x, y = torch.randn(5, 2, dtype=torch.float64), torch.rand(5, 4, dtype=torch.float64)
    out, expected = ours(x), theirs(x)
    nn.MSELoss()(out, y).backward(retain_graph=True)
    torch.nn.MSELoss()(expected, y).backward(retain_graph=True)
    g = torch.randn(5, 4, dtype=torch.float64)
    kept = g.clone()
    out.backward(g)
    expected.backward(g)
    assert torch.equal(g, kept)
    assert_same_gradients(ours, theirs)


def test_two_losses_on_one_output_accumulate_like_torch() -> None:
    # the stack's gradient is then the walk's sum of the two losses' (owned, written over)
    ours, theirs = pair()
    x = torch.randn(5, 2, dtype=torch.float64)
    y1, y2 = torch.rand(5, 4, dtype=torch.float64), torch.rand(5, 4, dtype=torch.float64)
    out, expected = ours(x), theirs(x)
    (nn.MSELoss()(out, y1) + nn.MSELoss()(out, y2)).backward()
    (torch.nn.MSELoss()(expected, y1) + torch.nn.MSELoss()(expected, y2)).backward()
    assert_same_gradients(ours, theirs)


@pytest.mark.parametrize("seed", range(6))
def test_kernels_written_for_one_needs_pattern_match_torch(seed) -> None:
    # stack_kernels(activations, needs) drops the needs tests: every pattern of which inputs
    # need a gradient (x, each weight and bias; an absent bias never does) against autograd
    g = torch.Generator().manual_seed(seed)
    activations = (minidl.functional.ReLU, None, minidl.functional.Sigmoid)
    sizes = [(3, 4), (4, 5), (5, 2)]
    params, leaves = [], []
    for i, (a, b) in enumerate(sizes):
        w = torch.randn(b, a, dtype=torch.float64, generator=g)
        bias = None if i == 1 else torch.randn(b, dtype=torch.float64, generator=g)
        params += [w, bias]
    x = torch.randn(7, 3, dtype=torch.float64, generator=g)
    needs = tuple(
        p is not None and bool(torch.rand((), generator=g) < 0.7) for p in [x, *params]
    )
    forward, backward = minidl.functional.stack_kernels(activations, needs)
    ys = forward(x, params, [w.t() for w in params[::2]])
    upstream = torch.randn(7, 2, dtype=torch.float64, generator=g)
    grads = backward(upstream.clone(), ys, params, None, False)

    leaves = [t.clone().requires_grad_(need) if t is not None else None
              for t, need in zip([x, *params], needs, strict=True)]
    h = leaves[0]
    for i, act in enumerate((torch.relu, None, torch.sigmoid)):
        h = torch.nn.functional.linear(h, leaves[1 + 2 * i], leaves[2 + 2 * i])
        h = act(h) if act is not None else h
    torch.testing.assert_close(ys[-1], h.detach(), rtol=1e-12, atol=1e-12)
    h.backward(upstream)
    for k, (leaf, need) in enumerate(zip(leaves, needs, strict=True)):
        if need:
            torch.testing.assert_close(grads[k], leaf.grad, rtol=1e-10, atol=1e-10)
        else:
            assert grads[k] is None
