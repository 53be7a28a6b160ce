"""Stacked training (minidl.nn.stack): M models as one, each exactly as if trained alone."""

from __future__ import annotations

import math

import pytest
import torch
from oracle import check, finite_difference_check

import minidl
from minidl import functional as F
from minidl import nn, optim
from minidl.train import fit

SEED_SIZES = (2, 25, 25, 25, 1)


def seed_network(seed: int, dtype: torch.dtype = torch.float64, dropout: float = 0.0):
    """The seeds' 2-25-25-25-1 network (ReLU, Sigmoid), weights drawn from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(SEED_SIZES, SEED_SIZES[1:], strict=False)):
        layers.append(nn.Linear(a, b, dtype=dtype, generator=gen))
        if i < len(SEED_SIZES) - 2:
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Sigmoid())


def disk(n: int, seed: int, dtype: torch.dtype):
    x, y = minidl.data.disk(n, seed=seed)
    return x.to(dtype), y.to(dtype).unsqueeze(1)


# -- the op --------------------------------------------------------------------------------------


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_batched_linear_matches_torch_autograd(shared: bool, bias: bool) -> None:
    gen = torch.Generator().manual_seed(0)
    m, n, i, o = 4, 6, 3, 5
    x = torch.randn((n, i) if shared else (m, n, i), generator=gen, dtype=torch.float64)
    w = torch.randn(m, o, i, generator=gen, dtype=torch.float64)
    b = torch.randn(m, o, generator=gen, dtype=torch.float64)

    def ours(x, w, b=None):
        return F.batched_linear(x, w, b)

    def theirs(x, w, b=None):
        y = torch.matmul(x, w.transpose(1, 2))
        return y if b is None else y + b.unsqueeze(1)

    if bias:
        check(ours, x, w, b, torch_fn=theirs)
        finite_difference_check(ours, x, w, b)
    else:
        check(ours, x, w, torch_fn=theirs)


def test_batched_linear_formula_is_read_from_its_docstring() -> None:
    forward, backward = minidl.ops.BatchedLinear.formula()
    assert forward.startswith("y_m = x_m @ W_mᵀ + b_m")
    assert "dW_m = g_mᵀ @ x_m" in backward and "db_m" in backward


# -- stack and unstack ---------------------------------------------------------------------------


def test_stack_runs_each_model_on_the_shared_or_its_own_batch() -> None:
    models = [seed_network(k) for k in range(3)]
    stacked = nn.stack(models)
    assert stacked.models == 3
    assert tuple(stacked[0].weight.shape) == (3, 25, 2)
    assert tuple(stacked[6].bias.shape) == (3, 1)
    x = torch.randn(10, 2, dtype=torch.float64)
    out = stacked(x)
    assert tuple(out.shape) == (3, 10, 1)
    for k, model in enumerate(models):
        torch.testing.assert_close(out.data[k], model(x).data, rtol=1e-12, atol=1e-12)
    own = torch.randn(3, 7, 2, dtype=torch.float64)
    out = stacked(own)
    for k, model in enumerate(models):
        torch.testing.assert_close(out.data[k], model(own[k]).data, rtol=1e-12, atol=1e-12)


def test_the_graph_of_a_stack_has_a_node_per_layer() -> None:
    stacked = nn.stack([seed_network(k) for k in range(2)])
    x, y = disk(8, 0, torch.float64)
    loss = nn.PerModelLoss(nn.MSELoss(), 2)(stacked(x), y).sum()
    names = [node.name for node in minidl.graph_of(loss)]
    assert names.count("BatchedLinear") == 4 and names.count("ReLU") == 3
    assert names[:3] == ["Sum", "Mean", "Reshape"] and "MSELoss" in names


def test_unstack_gives_ordinary_models_with_their_own_weights() -> None:
    models = [seed_network(k) for k in range(3)]
    stacked = nn.stack(models)
    with minidl.no_grad():
        stacked[0].weight.data[1] += 1.0  # only model 1's first layer
    back = stacked.unstack()
    assert all(type(b) is nn.Sequential and len(b) == len(models[0]) for b in back)
    for k, (b, original) in enumerate(zip(back, models, strict=True)):
        for key, value in original.state_dict().items():
            expected = value + 1.0 if (k == 1 and key == "0.weight") else value
            assert torch.equal(b.state_dict()[key], expected), (k, key)
    # the unstacked models do not share memory with the stack
    back[0][0].weight.data.zero_()
    assert stacked[0].weight.data[0].abs().sum() > 0


def test_stack_refuses_models_that_differ_and_names_where() -> None:
    a = seed_network(0)
    b = nn.Sequential(nn.Linear(2, 25), nn.Tanh(), nn.Linear(25, 1))
    with pytest.raises(ValueError, match="model 1 has 3 layers but model 0 has 8"):
        nn.stack([a, b])
    c = seed_network(1)
    c._modules["2"] = nn.Linear(25, 24)
    with pytest.raises(ValueError, match="layer 2 of model 1"):
        nn.stack([a, c])
    with pytest.raises(ValueError, match="Conv2d"):
        nn.stack([nn.Sequential(nn.Conv2d(1, 1, 3))])
    with pytest.raises(ValueError, match="at least one model"):
        nn.stack([])
    with pytest.raises(ValueError, match="not a Sequential"):
        nn.stack([nn.Linear(2, 1)])


def test_a_wrong_input_shape_names_the_layer_and_both_shapes() -> None:
    stacked = nn.stack([seed_network(k) for k in range(2)])
    with pytest.raises(nn.ShapeError, match=r"\(N, 2\).*\(2, N, 2\) but got \(3, 5, 2\)") as e:
        stacked(torch.zeros(3, 5, 2, dtype=torch.float64))
    assert e.value.layer == "0"


def test_dropout_masks_are_independent_per_model() -> None:
    stacked = nn.stack([nn.Sequential(nn.Dropout(0.5)) for _ in range(4)])
    out = stacked(torch.ones(4, 200, 3)).data  # one batch per model: (4, 200, 3)
    for k in range(1, 4):
        assert not torch.equal(out[0], out[k])
    assert 0.4 < (out == 0).double().mean().item() < 0.6


def test_features_run_on_the_shared_points_or_each_models_own() -> None:
    models = [nn.Sequential(nn.Features(["x1", "x1*x2"]), nn.Linear(2, 1)) for _ in range(2)]
    stacked = nn.stack(models)
    own = torch.randn(2, 5, 2)
    out = stacked(own).data
    for k, model in enumerate(models):
        torch.testing.assert_close(out[k], model(own[k]).data)


# -- losses per model ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "target"),
    [
        (nn.MSELoss(), "float"),
        (nn.L1Loss(reduction="sum"), "float"),
        (nn.BCELoss(), "prob"),
        (nn.CrossEntropyLoss(), "class"),
    ],
)
def test_per_model_loss_is_each_models_own_loss(loss, target) -> None:
    gen = torch.Generator().manual_seed(3)
    m, n, c = 3, 9, 4
    out = torch.rand(m, n, c, generator=gen, dtype=torch.float64)
    if target == "class":
        t = torch.randint(0, c, (n,), generator=gen)
    else:
        t = torch.rand(n, c, generator=gen, dtype=torch.float64)
        t = t.round() if target == "prob" else t
    leaf = minidl.Tensor(out, requires_grad=True)
    per_model = nn.PerModelLoss(loss, m)(leaf, t)
    assert tuple(per_model.shape) == (m,)
    per_model.sum().backward()
    for k in range(m):
        alone = minidl.Tensor(out[k], requires_grad=True)
        value = loss(alone, t)
        value.backward()
        torch.testing.assert_close(per_model.data[k], value.data, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(leaf.grad[k], alone.grad, rtol=1e-12, atol=1e-12)


# -- optimisers with one value per model ---------------------------------------------------------


def test_per_model_hyperparameters_are_checked() -> None:
    stacked = nn.stack([seed_network(k) for k in range(3)])
    with pytest.raises(ValueError, match="invalid learning rate -0.1"):
        optim.SGD(stacked.parameters(), lr=[0.1, -0.1, 0.2])
    opt = optim.SGD(stacked.parameters(), lr=[0.1, 0.2])
    x, y = disk(8, 0, torch.float64)
    nn.PerModelLoss(nn.MSELoss(), 3)(stacked(x), y).sum().backward()
    with pytest.raises(ValueError, match=r"lr gives 2 values .* stacks 3 models"):
        opt.step()
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD(stacked.parameters(), lr=0.1, momentum=[0.9, 0.0, 0.5], nesterov=True)


OPTIMISERS = {
    "sgd": lambda ps, lrs: optim.SGD(ps, lr=lrs),
    "sgd_momentum_wd": lambda ps, lrs: optim.SGD(
        ps, lr=lrs, momentum=[0.0, 0.9, 0.5, 0.5], dampening=[0.3, 0.0, 0.1, 0.0],
        weight_decay=[0.0, 1e-3, 1e-2, 0.1],
    ),
    "nesterov": lambda ps, lrs: optim.SGD(ps, lr=lrs, momentum=[0.9, 0.5, 0.8, 0.7],
                                          nesterov=True),
    "adam": lambda ps, lrs: optim.Adam(
        ps, lr=[lr / 20 for lr in lrs], betas=([0.9, 0.8, 0.9, 0.5], 0.999),
        weight_decay=[0.0, 0.0, 1e-3, 1e-2], eps=[1e-8, 1e-6, 1e-8, 1e-8],
    ),
}


def _alone_optimiser(name: str, params, k: int, lrs: list[float]):
    """Model k's own optimiser: the same hyperparameters as numbers."""
    def pick(value):
        return value[k] if isinstance(value, list) else value
    probe = OPTIMISERS[name]([minidl.Tensor(torch.zeros(4), requires_grad=True)], lrs)
    group = {key: v for key, v in probe.param_groups[0].items() if key != "params"}
    if name == "adam":
        group["betas"] = tuple(pick(b) for b in group["betas"])
        return optim.Adam(params, **{key: pick(v) for key, v in group.items()})
    return optim.SGD(params, **{key: pick(v) for key, v in group.items()})


@pytest.mark.parametrize("name", list(OPTIMISERS))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_stacked_training_equals_training_each_alone(name: str, dtype: torch.dtype) -> None:
    """M seed networks, other seeds and learning rates, 200 steps: the weights each reaches.

    The learning rates are seed 000's (0.001 … 0.1); far above them (SGD at 1.0, Adam at 0.1)
    a run is chaotic: the rounding of a batched product against a single one (1e-16) grows
    to 1e-10 within 100 steps, as it would between two torch builds."""
    m, lrs = 4, [0.001, 0.01, 0.05, 0.1]
    x, y = disk(100, 7, dtype)
    epochs, batch = 100, 50  # 2 steps an epoch: 200 steps
    alone = []
    for k in range(m):
        model = seed_network(k, dtype)
        opt = _alone_optimiser(name, model.parameters(), k, lrs)
        fit(model, nn.MSELoss(), opt, (x, y), epochs, batch, metrics=False,
            generator=torch.Generator().manual_seed(50 + k))
        alone.append(model)
    stacked = nn.stack([seed_network(k, dtype) for k in range(m)])
    opt = OPTIMISERS[name](stacked.parameters(), lrs)
    histories = fit(stacked, nn.MSELoss(), opt, (x, y), epochs, batch, metrics=False,
                    generator=[torch.Generator().manual_seed(50 + k) for k in range(m)])
    assert len(histories) == m and all(len(h.train_loss) == epochs for h in histories)
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    for k, (back, model) in enumerate(zip(stacked.unstack(), alone, strict=True)):
        for key, value in model.state_dict().items():
            torch.testing.assert_close(back.state_dict()[key], value, rtol=tol, atol=tol,
                                       msg=f"model {k} {key}")


def test_fit_on_a_stack_gives_each_model_its_history_and_metrics() -> None:
    m = 3
    data = [disk(120, 10 + k, torch.float64) for k in range(m)]
    x = torch.stack([d[0] for d in data])  # (M, N, 2): a dataset per model
    y = torch.stack([d[1] for d in data])
    test = disk(60, 99, torch.float64)
    stacked = nn.stack([seed_network(k) for k in range(m)])
    opt = optim.SGD(stacked.parameters(), lr=[0.1, 0.5, 1.0])
    histories = fit(stacked, nn.MSELoss(), opt, (x, y), 5, 40, test=test,
                    generator=torch.Generator().manual_seed(0))
    back = stacked.unstack()
    for k, h in enumerate(histories):
        assert h.epoch == [1, 2, 3, 4, 5]
        loss, acc = minidl.train.evaluate(back[k], nn.MSELoss(), test)
        assert math.isclose(h.test_loss[-1], loss, rel_tol=1e-12)
        assert h.test_accuracy[-1] == acc
        train_acc = minidl.train.accuracy(minidl.train.predict(back[k], x[k]), y[k])
        assert h.train_accuracy[-1] == train_acc


def test_one_diverging_model_does_not_stop_or_spoil_the_others() -> None:
    x, y = disk(100, 3, torch.float64)
    lrs = [0.1, 1e30]
    f64 = torch.float64
    stacked = nn.stack(
        [nn.Sequential(nn.Linear(2, 8, dtype=f64), nn.Linear(8, 1, dtype=f64)) for _ in range(2)]
    )
    alone = stacked.unstack()[0]
    histories = fit(stacked, nn.MSELoss(), optim.SGD(stacked.parameters(), lr=lrs),
                    (x, y), 4, 50, shuffle=False)
    assert histories[0].stop_reason is None and len(histories[0].epoch) == 4
    assert "model 1 diverged" in histories[1].stop_reason
    fit(alone, nn.MSELoss(), optim.SGD(alone.parameters(), lr=0.1), (x, y), 4, 50, shuffle=False)
    for key, value in alone.state_dict().items():
        torch.testing.assert_close(stacked.unstack()[0].state_dict()[key], value)
