"""L1 and L2 regularisation as TensorFlow Playground applies them (its src/nn.ts updateWeights,
written out below as the oracle), and the Linear initialisations (issue 13)."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from minidl import data, nn, optim
from minidl.init import INITS
from minidl.train import fit


def playground_update(weights, grads, lr, rate, dead):
    """Playground's updateWeights for one step of links (plain floats, its order of operations):
    regulDer from the weight before the update, gradient step, L1 step, a crossing kills."""
    out = []
    for i, (w, g) in enumerate(zip(weights, grads, strict=True)):
        if dead[i]:
            out.append(w)
            continue
        regul_der = -1.0 if w < 0 else (1.0 if w > 0 else 0.0)
        w = w - lr * g
        new = w - (lr * rate) * regul_der
        if w * new < 0:
            out.append(0.0)
            dead[i] = True
        else:
            out.append(new)
    return out


def _steps(optimizer_for, start, grads):
    """Run an optimiser on one float64 parameter, setting its gradient by hand at each step."""
    p = nn.Parameter(torch.tensor(start, dtype=torch.float64))
    opt = optimizer_for([p])
    values = []
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        values.append(p.data.tolist())
    return values


def test_l1_is_playgrounds_update_step_for_step():
    lr, rate = 0.1, 0.1
    # a weight the L1 step takes across zero (then dead: held at 0 whatever its gradient), one
    # the gradient takes across zero (L1 pushes on by the old sign), one at 0, ordinary ones
    start = [0.001, 0.5, 0.0, -0.3, 1.2]
    g = torch.Generator().manual_seed(0)
    grads = [[0.0, 10.0, 0.0, 0.0, 0.0]]
    grads += torch.randn(20, 5, generator=g, dtype=torch.float64).tolist()
    got = _steps(lambda ps: optim.SGD(ps, lr=lr, l1=rate), start, grads)
    weights, dead = list(start), [False] * 5
    for step, grad in enumerate(grads):
        weights = playground_update(weights, grad, lr, rate, dead)
        assert got[step] == pytest.approx(weights, abs=1e-15, rel=1e-15), f"step {step}"
    assert got[0][0] == 0.0 and all(row[0] == 0.0 for row in got)  # dead from the first step
    assert got[0][1] == pytest.approx(0.5 - 0.1 * 10 - 0.01)  # crossed by the gradient: lives
    assert dead[0]


def test_l1_after_adam_is_adams_step_then_playgrounds_l1_step():
    g = torch.Generator().manual_seed(1)
    grads = torch.randn(15, 6, generator=g, dtype=torch.float64).tolist()
    start = (torch.randn(6, generator=g, dtype=torch.float64) * 0.05).tolist()
    got = _steps(lambda ps: optim.Adam(ps, lr=0.01, l1=0.5), start, grads)
    # the oracle: minidl's own Adam (tested against torch) without l1, then the L1 step by hand
    p = nn.Parameter(torch.tensor(start, dtype=torch.float64))
    adam = optim.Adam([p], lr=0.01)
    dead = torch.zeros(6, dtype=torch.bool)
    for step, grad in enumerate(grads):
        w0 = p.data.clone()
        p.grad = torch.tensor(grad, dtype=torch.float64)
        adam.step()
        w2 = p.data - 0.01 * 0.5 * torch.sign(w0)
        dead |= p.data * w2 < 0
        p.data.copy_(w2.masked_fill(dead, 0.0))
        assert got[step] == p.data.tolist(), f"step {step}"
    assert dead.any()  # the rate is large enough that some weights die


def test_l1_per_model_of_a_stack_is_each_model_alone():
    g = torch.Generator().manual_seed(2)
    start = (torch.randn(2, 4, generator=g, dtype=torch.float64) * 0.02).tolist()
    grads = torch.randn(10, 2, 4, generator=g, dtype=torch.float64).tolist()
    stacked = _steps(lambda ps: optim.SGD(ps, lr=[0.1, 0.2], l1=[0.0, 0.3]), start, grads)
    for m, (lr, l1) in enumerate([(0.1, 0.0), (0.2, 0.3)]):
        alone = _steps(lambda ps, lr=lr, l1=l1: optim.SGD(ps, lr=lr, l1=l1), start[m],
                       [grad[m] for grad in grads])
        # per-model SGD rounds as lr * g where alone it is one fused add: 1e-12, as issue 14's
        for got, expected in zip((row[m] for row in stacked), alone, strict=True):
            assert got == pytest.approx(expected, rel=1e-12, abs=1e-14)


def test_l1_off_leaves_training_bit_for_bit_as_before():
    x, y = data.disk(200, seed=0)
    y = y.float().unsqueeze(1)
    results = []
    for make in (
        lambda m: optim.SGD(m.parameters(), lr=0.1, momentum=0.9),
        lambda m: optim.SGD(m.parameters(), lr=0.1, momentum=0.9, l1=0.0),
        lambda m: optim.SGD(optim.regularized(m, "none"), lr=0.1, momentum=0.9),
        lambda m: optim.SGD(optim.regularized(m, "l1", 0.0), lr=0.1, momentum=0.9),
    ):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1), nn.Sigmoid())
        fit(model, nn.MSELoss(), make(model), (x, y), epochs=3, batch_size=20,
            generator=torch.Generator().manual_seed(0), metrics=False)
        results.append([p.data for p in model.parameters()])
    for other in results[1:]:
        assert all(torch.equal(a, b) for a, b in zip(results[0], other, strict=True))


def test_l2_regularised_groups_are_playgrounds_rule_on_the_weights_only():
    lr, rate = 0.1, 0.03
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    before = copy.deepcopy(model)
    opt = optim.SGD(optim.regularized(model, "l2", rate), lr=lr)
    grads = {name: torch.randn_like(p.data) for name, p in model.named_parameters()}
    for name, p in model.named_parameters():
        p.grad = grads[name].clone()
    opt.step()
    for (name, p), q in zip(model.named_parameters(), before.parameters(), strict=True):
        if name.endswith("weight"):  # Playground: w - lr * dE/dw - lr * rate * w
            expected = q.data - lr * grads[name] - lr * rate * q.data
            torch.testing.assert_close(p.data, expected, rtol=1e-14, atol=1e-14)
        else:  # biases are never regularised
            assert torch.equal(p.data, q.data - lr * grads[name])


def test_regularized_splits_weights_from_biases_and_checks_its_arguments():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1, bias=False))
    groups = optim.regularized(model, "l1", 0.01)
    assert [len(g["params"]) for g in groups] == [2, 1]
    assert groups[0]["l1"] == 0.01 and "weight_decay" not in groups[0]
    assert set(groups[1]) == {"params"}
    assert optim.regularized(model, "l2", 0.5)[0]["weight_decay"] == 0.5
    assert len(optim.regularized(nn.Sequential(nn.Linear(2, 1, bias=False)), "none")) == 1
    with pytest.raises(ValueError, match="one of \\('none', 'l1', 'l2'\\)"):
        optim.regularized(model, "L3", 0.1)
    with pytest.raises(ValueError, match="rate"):
        optim.regularized(model, "l1", -1.0)
    with pytest.raises(ValueError, match="invalid l1 -0.5"):
        optim.SGD(model.parameters(), lr=0.1, l1=-0.5)


def test_l1_makes_weights_exactly_zero_where_l2_and_none_do_not():
    x, y = data.xor(300, seed=0)
    y = y.float().unsqueeze(1)
    zeros = {}
    for kind in optim.REGULARIZATIONS:
        torch.manual_seed(0)
        model = nn.Sequential(
            nn.Features(["x1", "x2", "x1^2", "x2^2", "x1*x2"]), nn.Linear(5, 8), nn.Tanh(),
            nn.Linear(8, 1), nn.Sigmoid(),
        )
        fit(model, nn.MSELoss(), optim.SGD(optim.regularized(model, kind, 0.01), lr=0.03),
            (x, y), epochs=30, batch_size=10, generator=torch.Generator().manual_seed(0),
            metrics=False)
        zeros[kind] = sum(int((m.weight.data == 0).sum()) for m in model if hasattr(m, "weight"))
    assert zeros["l1"] >= 10 and zeros["l2"] == 0 and zeros["none"] == 0


# -- initialisation ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 25), (25, 25), (25, 1), (7, 3), (400, 3000)])
def test_torch_init_is_torch_nn_linears_default_to_the_bit(shape):
    torch.manual_seed(3)
    theirs = torch.nn.Linear(*shape)
    torch.manual_seed(3)
    ours = nn.Linear(*shape, init="torch")
    assert torch.equal(ours.weight.data, theirs.weight.data)
    assert torch.equal(ours.bias.data, theirs.bias.data)
    bound = 1 / math.sqrt(shape[0])
    assert ours.weight.data.abs().max() <= bound and ours.bias.data.abs().max() <= bound


def test_zeros_init_starts_every_weight_and_bias_at_zero():
    layer = nn.Linear(5, 4, init="zeros")
    assert not layer.weight.data.any() and not layer.bias.data.any()
    assert INITS == ("xavier", "torch", "zeros")
    with pytest.raises(ValueError, match=r"Linear: init must be one of \('xavier', 'torch', "):
        nn.Linear(2, 2, init="he")


@pytest.mark.parametrize("activation", [nn.Sigmoid, nn.Tanh])
def test_zeros_init_keeps_every_unit_of_a_layer_identical_through_training(activation):
    x, y = data.circle(200, seed=1)
    y = y.float().unsqueeze(1)
    model = nn.Sequential(
        nn.Linear(2, 5, init="zeros"), activation(), nn.Linear(5, 4, init="zeros"), activation(),
        nn.Linear(4, 1, init="zeros"), nn.Sigmoid(),
    )
    fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.5), (x, y), epochs=5,
        batch_size=10, generator=torch.Generator().manual_seed(0), metrics=False)
    trained = [m for m in model if isinstance(m, nn.Linear)]
    assert any(m.bias.data.any() for m in trained)  # training moved something
    for m in trained[:-1]:  # a hidden layer: every unit (row) the same as the first
        w, b = m.weight.data, m.bias.data
        assert torch.equal(w, w[:1].expand_as(w)) and torch.equal(b, b[:1].expand_as(b))
    for m in trained[1:]:  # each unit weighs every unit below it alike
        w = m.weight.data
        assert torch.equal(w, w[:, :1].expand_as(w))
    if activation is nn.Sigmoid:  # σ(0) = ½ ≠ 0: the weights themselves moved off zero
        assert trained[0].weight.data.any()
