"""TrainStep: the fast step gives the eager step's numbers to the bit, and falls back to it.

The oracle is the eager step (model, loss, zero_grad, backward, step), itself tested against
torch's autograd elsewhere; the fast step runs the same ops' formulas in the same order, so
losses, gradients and weights must be equal, not merely close.
"""

from __future__ import annotations

import copy

import pytest
import torch

import minidl
from minidl import nn, optim
from minidl.fast import TrainStep
from minidl.fast.step import eager_step as _eager_step
from minidl.nn.module import ShapeError


def _compare(make_model, loss_fn, make_opt, batches, *, expect_fast=True):
    """Train a model and its copy on the same batches, eagerly and through TrainStep."""
    torch.manual_seed(0)
    eager_model = make_model()
    model = copy.deepcopy(eager_model)
    eager_opt, opt = make_opt(eager_model), make_opt(model)
    step = TrainStep(model, loss_fn, opt)
    assert step.fast is expect_fast
    for i, (x, y) in enumerate(batches):
        torch.manual_seed(100 + i)  # Dropout draws the same masks in both
        expected = _eager_step(eager_model, loss_fn, eager_opt, x, y)
        torch.manual_seed(100 + i)
        got = step(x, y)
        assert torch.equal(got.data, expected.data), f"loss differs at step {i}"
        for (name, p), q in zip(model.named_parameters(), eager_model.parameters(), strict=True):
            assert torch.equal(p.data, q.data), f"{name} differs after step {i}"
            assert (p.grad is None) == (q.grad is None)
            if p.grad is not None:
                assert torch.equal(p.grad, q.grad), f"{name}.grad differs after step {i}"
    return model, step


def _batches(n_in=2, n_out=1, target="float", count=4, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        x = torch.randn(size, n_in, generator=g)
        if target == "float":
            y = torch.rand(size, n_out, generator=g)
        elif target == "index":
            y = torch.randint(0, n_out, (size,), generator=g)
        else:  # soft targets summing to one
            y = torch.softmax(torch.randn(size, n_out, generator=g), dim=1)
        out.append((x, y))
    out.append((out[0][0][:5], out[0][1][:5]))  # a smaller last batch, as fit has
    return out


MODELS = {
    "seed": lambda: nn.Sequential(
        nn.Linear(2, 25), nn.ReLU(), nn.Linear(25, 25), nn.ReLU(),
        nn.Linear(25, 25), nn.ReLU(), nn.Linear(25, 1), nn.Sigmoid(),
    ),
    "tanh, no output activation": lambda: nn.Sequential(
        nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)
    ),
    "no biases": lambda: nn.Sequential(
        nn.Linear(2, 8, bias=False), nn.ReLU(), nn.Linear(8, 1, bias=False), nn.Sigmoid()
    ),
    "some biases": lambda: nn.Sequential(
        nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 8, bias=False), nn.Tanh(), nn.Linear(8, 1)
    ),
    "leaky relu between stacks": lambda: nn.Sequential(
        nn.Linear(2, 8), nn.LeakyReLU(0.1), nn.Linear(8, 1), nn.Sigmoid()
    ),
    "dropout": lambda: nn.Sequential(
        nn.Linear(2, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 8), nn.Tanh(),
        nn.Dropout(0.0), nn.Linear(8, 1), nn.Sigmoid(),
    ),
    "the newer activations": lambda: nn.Sequential(
        nn.Linear(2, 8), nn.ELU(alpha=0.7), nn.Linear(8, 8), nn.GELU(), nn.Linear(8, 8),
        nn.SiLU(), nn.Linear(8, 8), nn.Softplus(beta=2.0, threshold=1.0), nn.Linear(8, 8),
        nn.Sine(), nn.Linear(8, 1),
    ),
    "sine first, softplus last": lambda: nn.Sequential(
        nn.Sine(), nn.Linear(2, 8), nn.Softplus(), nn.Dropout(0.2), nn.Linear(8, 1), nn.ELU(),
    ),
    "dropout first, activation after dropout, identity": lambda: nn.Sequential(
        nn.Dropout(0.2), nn.Linear(2, 8), nn.Dropout(0.5), nn.Sigmoid(), nn.Identity(),
        nn.Linear(8, 1), nn.Sigmoid(),
    ),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_every_kind_of_chain_matches_the_eager_step(name):
    _compare(MODELS[name], nn.MSELoss(), lambda m: optim.SGD(m.parameters(), lr=0.1), _batches())


@pytest.mark.parametrize(
    "loss_fn, target, outputs, last",
    [
        (nn.MSELoss(reduction="sum"), "float", 1, nn.Sigmoid),
        (nn.L1Loss(), "float", 1, nn.Sigmoid),
        (nn.HuberLoss(delta=0.3), "float", 2, None),
        (nn.BCELoss(), "float", 1, nn.Sigmoid),
        (nn.CrossEntropyLoss(), "index", 3, None),
        (nn.CrossEntropyLoss(reduction="sum"), "soft", 3, None),
    ],
    ids=["mse sum", "l1", "huber", "bce", "cross-entropy indices", "cross-entropy soft sum"],
)
def test_every_loss_matches_the_eager_step(loss_fn, target, outputs, last):
    def make():
        layers = [nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, outputs)]
        return nn.Sequential(*layers, *([last()] if last else []))

    batches = _batches(n_out=outputs, target=target)
    _compare(make, loss_fn, lambda m: optim.SGD(m.parameters(), lr=0.1), batches)


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda m: optim.SGD(m.parameters(), lr=0.05, momentum=0.9, nesterov=True,
                            weight_decay=1e-3),
        lambda m: optim.SGD(m.parameters(), lr=0.05, momentum=0.5, dampening=0.1),
        lambda m: optim.Adam(m.parameters(), lr=0.01, weight_decay=1e-4),
        lambda m: optim.SGD(m.parameters(), lr=0.05, momentum=0.9, l1=0.05),  # one group
        lambda m: optim.SGD(optim.regularized(m, "l1", 0.05), lr=0.05),  # weights and biases
        lambda m: optim.SGD(  # two groups: the update goes through step()
            [{"params": list(m[0].parameters()), "lr": 0.01},
             {"params": list(m[2].parameters())}], lr=0.1),
    ],
    ids=["sgd nesterov + decay", "sgd momentum + dampening", "adam", "sgd l1", "l1 on weights",
         "two groups"],
)
def test_every_optimiser_matches_the_eager_step(make_opt):
    _compare(MODELS["tanh, no output activation"], nn.MSELoss(), make_opt, _batches())


def test_fit_trains_fast_and_gives_the_eager_history():
    x, y = minidl.data.disk(300, seed=3)
    y = y.float().unsqueeze(1)
    histories = []
    for wrap in (False, True):
        torch.manual_seed(1)
        model = MODELS["seed"]()
        if wrap:  # a model of our own: fit's step runs eagerly
            model = _Eager(model)
        opt = optim.SGD(model.parameters(), lr=0.3)
        assert TrainStep(model, nn.MSELoss(), opt).fast is not wrap
        history = minidl.train.fit(model, nn.MSELoss(), opt, (x, y), epochs=3, batch_size=64,
                                   generator=torch.Generator().manual_seed(0), metrics=False)
        histories.append((history.train_loss, [p.data for p in model.parameters()]))
    (fast_loss, fast_params), (eager_loss, eager_params) = histories
    assert fast_loss == eager_loss
    assert all(torch.equal(a, b) for a, b in zip(fast_params, eager_params, strict=True))


class _Eager(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return self.body(x)


def test_a_model_of_its_own_runs_eagerly():
    _compare(lambda: _Eager(MODELS["seed"]()), nn.MSELoss(),
             lambda m: optim.SGD(m.parameters(), lr=0.1), _batches(), expect_fast=False)


def test_a_layer_used_twice_runs_eagerly():
    def make():
        shared = nn.Linear(4, 4)
        return nn.Sequential(nn.Linear(2, 4), nn.Tanh(), shared, nn.Tanh(), shared,
                             nn.Linear(4, 1))

    _compare(make, nn.MSELoss(), lambda m: optim.SGD(m.parameters(), lr=0.1), _batches(),
             expect_fast=False)


def test_a_parameter_the_optimiser_does_not_hold_runs_eagerly():
    # eager: that parameter's gradient accumulates across steps (zero_grad never clears it)
    _compare(MODELS["tanh, no output activation"], nn.MSELoss(),
             lambda m: optim.SGD(m[2].parameters(), lr=0.1), _batches(), expect_fast=False)


def test_a_frozen_parameter_stays_put_as_in_the_eager_step():
    def make_opt(model):
        opt = optim.SGD(model.parameters(), lr=0.1)
        model[0].weight.requires_grad_(False)  # frozen after the optimiser took it
        return opt

    model, _ = _compare(MODELS["tanh, no output activation"], nn.MSELoss(), make_opt,
                        _batches())
    assert model[0].weight.grad is None


def _twins(make):
    """A model and its copy, each with its SGD; the copy trained by a TrainStep."""
    torch.manual_seed(0)
    eager = make()
    model = copy.deepcopy(eager)
    opt = optim.SGD(model.parameters(), lr=0.1)
    return eager, optim.SGD(eager.parameters(), lr=0.1), model, opt, TrainStep(
        model, nn.MSELoss(), opt)


def test_freezing_and_unfreezing_between_steps():
    eager, eager_opt, model, opt, step = _twins(MODELS["seed"])
    for i, (x, y) in enumerate(_batches(count=6)):
        frozen = i in (2, 3)
        for m in (eager, model):
            m[2].bias.requires_grad = not frozen
        _eager_step(eager, nn.MSELoss(), eager_opt, x, y)
        step(x, y)
        assert all(torch.equal(p.data, q.data)
                   for p, q in zip(model.parameters(), eager.parameters(), strict=True))


def test_changes_to_the_model_between_steps_are_followed():
    eager, eager_opt, model, opt, step = _twins(MODELS["tanh, no output activation"])
    batches = _batches(count=8)

    def both(i):
        x, y = batches[i]
        expected = _eager_step(eager, nn.MSELoss(), eager_opt, x, y)
        assert torch.equal(step(x, y).data, expected.data), f"step {i}"

    both(0)
    # weights loaded in place
    state = {k: v + 0.5 for k, v in eager.state_dict().items()}
    eager.load_state_dict(state)
    model.load_state_dict(state)
    both(1)
    # new data tensors (the cached transposed views must follow)
    for m in (eager, model):
        m[0].weight.data = m[0].weight.data * 0.5
    both(2)
    # the learning rate changed
    for o in (eager_opt, opt):
        o.param_groups[0]["lr"] = 0.01
    both(3)
    # a new Parameter the optimiser does not hold: the step goes eager, as it must
    for m in (eager, model):
        m[2].bias = nn.Parameter(torch.zeros(1))
    assert not step.fast
    both(4)
    both(5)
    assert torch.equal(model[2].bias.grad, eager[2].bias.grad)  # accumulated twice


def test_a_model_grown_between_steps_is_seen_anew():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh())
    opt = optim.SGD(model.parameters(), lr=0.1)
    step = TrainStep(model, nn.MSELoss(), opt)
    x = torch.randn(8, 2)
    step(x, torch.rand(8, 4))
    last = nn.Linear(4, 1)
    model.append(last)
    assert not step.fast  # the optimiser does not hold the new layer's parameters
    opt.add_param_group({"params": list(last.parameters())})
    assert step.fast  # it does now (two groups: the update goes through step())
    eager = copy.deepcopy(model)
    eager_opt = optim.SGD([{"params": list(eager[0].parameters())},
                           {"params": list(eager[2].parameters())}], lr=0.1)
    y = torch.rand(8, 1)
    expected = _eager_step(eager, nn.MSELoss(), eager_opt, x, y)
    assert torch.equal(step(x, y).data, expected.data)
    assert all(torch.equal(p.data, q.data)
               for p, q in zip(model.parameters(), eager.parameters(), strict=True))


def test_double_precision_after_model_double():
    def make():
        return MODELS["seed"]().double()

    batches = [(x.double(), y.double()) for x, y in _batches()]
    _compare(make, nn.MSELoss(), lambda m: optim.SGD(m.parameters(), lr=0.1), batches)


def test_inputs_the_compiled_step_does_not_take_run_eagerly():
    # 3-D inputs (the Linear layers see rows) and inputs that are minidl Tensors
    batches = [(x.reshape(4, -1, 2), y.reshape(4, -1, 1)) for x, y in _batches()[:-1]]
    batches += [(minidl.Tensor(x), minidl.Tensor(y)) for x, y in _batches()]
    _compare(MODELS["seed"], nn.MSELoss(), lambda m: optim.SGD(m.parameters(), lr=0.1), batches)


def _same_error(model, loss_fn, x, y, lr=0.1):
    """The error the eager step raises for these inputs, and TrainStep's."""
    opt = optim.SGD(model.parameters(), lr=0.1)
    opt.param_groups[0]["lr"] = lr  # past the constructor's check
    with pytest.raises(Exception) as eager:
        _eager_step(model, loss_fn, opt, x, y)
    step = TrainStep(model, loss_fn, opt)
    with pytest.raises(type(eager.value)) as fast:
        step(x, y)
    assert str(fast.value) == str(eager.value)
    return fast.value


def test_a_wrong_input_width_names_the_layer_and_both_shapes():
    error = _same_error(MODELS["seed"](), nn.MSELoss(), torch.randn(8, 3), torch.rand(8, 1))
    assert isinstance(error, ShapeError)
    assert "(N, 2)" in str(error) and "(8, 3)" in str(error)


@pytest.mark.parametrize(
    "loss_fn, y",
    [
        (nn.MSELoss(), torch.rand(8)),
        (nn.BCELoss(), torch.rand(8, 2)),
        (nn.CrossEntropyLoss(), torch.tensor([0, 1, 5, 0, 0, 0, 0, 0])),
    ],
    ids=["target shape", "bce target", "class index"],
)
def test_a_bad_target_gets_the_eager_message(loss_fn, y):
    # after a first good step, so that the fast step is the one that meets it
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid())
    if not isinstance(loss_fn, nn.CrossEntropyLoss):
        model.append(nn.Linear(3, 1))
        model.append(nn.Sigmoid())
    opt = optim.SGD(model.parameters(), lr=0.1)
    step = TrainStep(model, loss_fn, opt)
    x = torch.randn(8, 2)
    good = torch.zeros(8, dtype=torch.long) if isinstance(loss_fn, nn.CrossEntropyLoss) else (
        torch.rand(8, 1))
    step(x, good)
    with pytest.raises(Exception) as eager:
        _eager_step(copy.deepcopy(model), loss_fn, optim.SGD(model.parameters(), lr=0.1), x, y)
    with pytest.raises(type(eager.value)) as fast:
        step(x, y)
    assert str(fast.value) == str(eager.value)


def test_a_bad_learning_rate_gets_the_eager_message():
    error = _same_error(MODELS["seed"](), nn.MSELoss(), torch.randn(8, 2), torch.rand(8, 1),
                        lr=float("nan"))
    assert "learning rate" in str(error)


def test_reduction_none_and_no_grad_get_the_eager_errors():
    _same_error(MODELS["seed"](), nn.MSELoss(reduction="none"), torch.randn(8, 2),
                torch.rand(8, 1))
    with minidl.no_grad():
        _same_error(MODELS["seed"](), nn.MSELoss(), torch.randn(8, 2), torch.rand(8, 1))


def test_an_optimiser_with_its_own_step_is_called():
    class Counting(optim.SGD):
        calls = 0

        def step(self):
            Counting.calls += 1
            super().step()

    _compare(MODELS["seed"], nn.MSELoss(), lambda m: Counting(m.parameters(), lr=0.1),
             _batches())
    assert Counting.calls == 2 * len(_batches())  # the eager run's and the fast run's


def test_the_fast_loss_has_no_graph_and_the_step_keeps_none():
    model = MODELS["seed"]()
    step = TrainStep(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
    loss = step(torch.randn(8, 2), torch.rand(8, 1))
    assert loss.grad_fn is None and not loss.requires_grad
    assert loss.shape == () and torch.isfinite(loss.data)


# -- inlining: the ops' own lines, copied in -------------------------------------------------


def _early_return(ctx, x, scale=2.0):
    ctx.save(x)
    if x.sum() > 0:
        y = x * scale
        return y + 1
    ctx.kind = "negative"
    return x - scale


def _loop_return(ctx, x):
    for row in x:
        return row
    return x


def _run_inlined(fn, arguments: dict, needs=(True,)):
    from minidl.fast.inline import inline

    namespace: dict = {}
    lines = inline(fn, "_7", list(arguments), "out", needs, namespace)
    namespace.update(arguments)
    exec("\n".join(lines), namespace)  # noqa: S102 - the test's own source
    return namespace, lines


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_inlining_a_return_inside_an_if_gives_the_calls_result(sign):
    x = torch.full((3,), sign)
    ctx = minidl.fast.kernels.Ctx((True,))
    expected = _early_return(ctx, x)
    namespace, lines = _run_inlined(_early_return, {"x_in": x})
    assert torch.equal(namespace["out"], expected)
    assert namespace["saved_7"] == (x,) and "scale_7 = 2.0" in lines  # default bound
    assert ("ctx_kind_7" in namespace) == (sign < 0)  # ctx.kind set only on that path


def test_a_body_inlining_cannot_take_is_refused():
    from minidl.fast.inline import Uninlinable

    with pytest.raises(Uninlinable, match="loop"):
        _run_inlined(_loop_return, {"x_in": torch.ones(2, 2)})


def test_an_op_that_cannot_be_inlined_is_called_with_a_ctx_and_gives_the_same_bits(monkeypatch):
    from minidl.fast import inline as inline_module
    from minidl.fast import kernels as kernels_module

    chain = (minidl.ops.Linear, minidl.ops.Tanh, minidl.ops.Linear)
    real = inline_module.inline

    def refuse_tanh(fn, *args, **kwargs):
        if fn.__qualname__.startswith("Tanh."):
            raise inline_module.Uninlinable("for the test")
        return real(fn, *args, **kwargs)

    inlined = kernels_module._write(chain, (True, True), minidl.ops.MSELoss)
    monkeypatch.setattr(kernels_module, "inline", refuse_tanh)
    called = kernels_module._write(chain, (True, True), minidl.ops.MSELoss)
    assert "h1 = Tanh.forward(ctx_1, h0)" in called.source
    assert "back1 = Tanh.backward(ctx_1, g2)" in called.source
    assert "Tanh.forward(ctx" not in inlined.source
    torch.manual_seed(0)
    x, y = torch.randn(8, 3), torch.randn(8, 2)
    args = [(torch.randn(4, 3), torch.randn(4)), (), (torch.randn(2, 4), torch.randn(2))]
    check = minidl.ops.MSELoss.check
    (loss_a, grads_a), (loss_b, grads_b) = (
        k.run(x, y, args, "mean", {}, check) for k in (inlined, called)
    )
    assert torch.equal(loss_a, loss_b)
    assert all(torch.equal(a, b) for a, b in zip(grads_a, grads_b, strict=True))


# -- stacks (minidl.nn.stack): the same step for M models at once --------------------------------

M = 3


def _stack(*layers):
    def make():
        return nn.stack([_fresh(layers) for _ in range(M)])
    return make


def _fresh(layers):
    """A Sequential like ``layers`` with new weights (each model of a stack its own)."""
    out = []
    for layer in layers:
        if isinstance(layer, nn.Linear):
            out.append(nn.Linear(layer.in_features, layer.out_features,
                                 bias=layer.bias is not None))
        else:
            out.append(copy.deepcopy(layer))
    return nn.Sequential(*out)


def _stacked_batches(shared_x, shared_y, n_out=1, count=4, size=12, binary=False):
    g = torch.Generator().manual_seed(1)
    out = []
    for _ in range(count):
        x = torch.randn(*(() if shared_x else (M,)), size, 2, generator=g)
        y = torch.rand(*(() if shared_y else (M,)), size, n_out, generator=g)
        out.append((x, y.round() if binary else y))
    return out


STACKED_CHAINS = {
    "relu, sigmoid": (nn.Linear(2, 5), nn.ReLU(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 1),
                      nn.Sigmoid()),
    "tanh, leaky, no bias": (nn.Linear(2, 5, bias=False), nn.Tanh(), nn.Linear(5, 3),
                             nn.LeakyReLU(0.1), nn.Linear(3, 1)),
    "dropout, identity": (nn.Linear(2, 6), nn.ReLU(), nn.Dropout(0.3), nn.Identity(),
                          nn.Linear(6, 1)),
}


@pytest.mark.parametrize("name", list(STACKED_CHAINS))
@pytest.mark.parametrize(("shared_x", "shared_y"), [(True, True), (False, False), (True, False)])
def test_a_stack_trains_fast_to_the_eager_steps_bits(name, shared_x, shared_y):
    def make_opt(m):
        return optim.SGD(m.parameters(), lr=[0.05, 0.1, 0.2])

    loss_fn = nn.PerModelLoss(nn.MSELoss(), M)
    _compare(_stack(*STACKED_CHAINS[name]), loss_fn, make_opt,
             _stacked_batches(shared_x, shared_y))


@pytest.mark.parametrize("loss", [nn.MSELoss(reduction="sum"), nn.L1Loss(), nn.BCELoss(),
                                  nn.BCELoss(reduction="sum")])
def test_every_per_model_loss_matches_the_eager_step(loss):
    chain = STACKED_CHAINS["relu, sigmoid"]
    _compare(_stack(*chain), nn.PerModelLoss(loss, M),
             lambda m: optim.SGD(m.parameters(), lr=0.1),
             _stacked_batches(False, False, binary=True))


@pytest.mark.parametrize("make_opt", [
    lambda m: optim.SGD(m.parameters(), lr=[0.05, 0.1, 0.2], momentum=[0.0, 0.5, 0.9],
                        weight_decay=[0.0, 0.01, 0.1]),
    lambda m: optim.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                        weight_decay=[0.0, 0.0, 0.0]),
    # the fast step's own per-model SGD update (no momentum): with and without weight decay
    lambda m: optim.SGD(m.parameters(), lr=[0.05, 0.1, 0.2], weight_decay=[0.0, 0.01, 0.1]),
    lambda m: optim.SGD(m.parameters(), lr=(0.05, 0.1, 0.2), weight_decay=0.01,
                        momentum=[0.0, 0.0, 0.0]),
    lambda m: optim.Adam(m.parameters(), lr=[0.001, 0.01, 0.1], weight_decay=[0.0, 0.1, 0.0]),
])
def test_every_per_model_optimiser_matches_the_eager_step(make_opt):
    _compare(_stack(*STACKED_CHAINS["relu, sigmoid"]), nn.PerModelLoss(nn.MSELoss(), M),
             make_opt, _stacked_batches(False, False))


def test_a_stack_with_a_loss_the_fast_step_does_not_take_runs_eagerly():
    chain = (nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 3))
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(M, 8, 2, generator=g), torch.randint(0, 3, (M, 8), generator=g))
               for _ in range(3)]
    _compare(_stack(*chain), nn.PerModelLoss(nn.CrossEntropyLoss(), M),
             lambda m: optim.SGD(m.parameters(), lr=0.1), batches, expect_fast=False)
    # a plain loss on a stack's (M, N, 1) outputs is not a per-model loss: eagerly too
    step = TrainStep(_stack(*STACKED_CHAINS["relu, sigmoid"])(), nn.MSELoss(),
                     optim.SGD(_stack(nn.Linear(2, 1))().parameters(), lr=0.1))
    assert not step.fast


def test_a_stack_gets_the_eager_errors_for_a_bad_batch():
    stacked = _stack(*STACKED_CHAINS["relu, sigmoid"])()
    step = TrainStep(stacked, nn.PerModelLoss(nn.MSELoss(), M),
                     optim.SGD(stacked.parameters(), lr=0.1))
    assert step.fast
    before = [p.data.clone() for p in stacked.parameters()]
    with pytest.raises(ShapeError, match=r"expects input of shape \(N, 2\)"):
        step(torch.randn(M + 1, 4, 2), torch.rand(M + 1, 4, 1))
    with pytest.raises(ValueError, match="MSELoss"):
        step(torch.randn(M, 4, 2), torch.rand(M, 5, 1))
    assert all(torch.equal(p.data, q) for p, q in zip(stacked.parameters(), before, strict=True))


def test_fit_on_a_stack_gives_the_eager_histories_to_the_bit():
    torch.manual_seed(0)
    stacked = _stack(*STACKED_CHAINS["relu, sigmoid"])()
    twin = copy.deepcopy(stacked)
    x, y = minidl.data.disk(60, seed=0)
    data = (x, y.float().unsqueeze(1))
    histories = []
    for model, fast in ((stacked, True), (twin, False)):
        opt = optim.SGD(model.parameters(), lr=[0.05, 0.1, 0.3])
        gens = [torch.Generator().manual_seed(k) for k in range(M)]
        histories.append(minidl.train.fit(model, nn.MSELoss(), opt, data, 3, 16, test=data,
                                          generator=gens, fast=fast))
    for fast_history, eager_history in zip(*histories, strict=True):
        assert fast_history == eager_history
    for p, q in zip(stacked.parameters(), twin.parameters(), strict=True):
        assert torch.equal(p.data, q.data)


# --- a stack's intermediates in buffers kept between steps (minidl/fast/workspace.py) ---


@pytest.mark.parametrize("name", list(STACKED_CHAINS))
def test_a_stack_takes_batches_of_changing_sizes_to_the_eager_steps_bits(name):
    """Each batch shape has its workspace; going back to a shape reuses its buffers."""
    sizes = [12, 7, 12, 7, 3, 12]
    g = torch.Generator().manual_seed(2)
    batches = [(torch.randn(M, n, 2, generator=g), torch.rand(M, n, 1, generator=g))
               for n in sizes]
    _, step = _compare(_stack(*STACKED_CHAINS[name]), nn.PerModelLoss(nn.MSELoss(), M),
                       lambda m: optim.SGD(m.parameters(), lr=[0.05, 0.1, 0.2]), batches)
    assert step._plan.buffered


def test_a_stacks_gradients_and_losses_are_fresh_tensors_at_every_step():
    """Only what stays inside a step is written into a buffer: a gradient or loss kept from one
    step is not overwritten by the next, as with the eager step."""
    model = _stack(*STACKED_CHAINS["relu, sigmoid"])()
    step = TrainStep(model, nn.PerModelLoss(nn.MSELoss(), M),
                     optim.SGD(model.parameters(), lr=0.1))
    (x, y), (x2, y2), (x3, y3) = _stacked_batches(False, False, count=3)
    step(x, y)
    loss = step(x2, y2)
    kept = [(p.grad, p.grad.clone()) for p in model.parameters()]
    kept_loss = loss.data.clone()
    step(x3, y3)
    for (grad, copy_of_it), p in zip(kept, model.parameters(), strict=True):
        assert torch.equal(grad, copy_of_it)
        assert p.grad is not grad
    assert torch.equal(loss.data, kept_loss)


def test_the_buffers_take_only_values_that_stay_inside_the_function():
    from minidl.fast import workspace

    source = (
        "def f(a, b, keep):\n"
        "    c = torch.mul(a, b)\n"          # returned through a view: escapes
        "    d = c.transpose(0, 1)\n"
        "    e = torch.add(a, b)\n"          # passed to an unknown call: escapes
        "    keep(e)\n"
        "    s = torch.sign(a)\n"            # used up inside: a buffer
        "    t = a * s\n"                    # used up by .sum(): a buffer
        "    pair = (t.sum(), s)\n"
        "    u, v = pair\n"                  # v is s; only u is returned
        "    return d, u\n"
    )
    buffered = workspace.with_buffers(source, "f")
    keep_source, reuse_source, count = buffered.keep, buffered.reuse, buffered.count
    assert count == 2
    assert "torch.sign(a, out=ws[0])" in reuse_source
    assert "torch.mul(a, s, out=ws[1])" in reuse_source
    assert "torch.mul(a, b)" in reuse_source and "torch.add(a, b)" in reuse_source
    namespace = dict(workspace.NAMESPACE)
    exec(keep_source + reuse_source, namespace)  # noqa: S102 - the test's own source
    a, b = torch.randn(3, 3), torch.randn(3, 3)
    ws = [None] * count
    kept = []
    first = namespace["f_keep"](a, b, kept.append, ws)
    buffers = list(ws)
    again = namespace["f_reuse"](a, b, kept.append, ws)
    assert all(x is y for x, y in zip(ws, buffers, strict=True))  # written into, not replaced
    assert all(torch.equal(x, y) for x, y in zip(first, again, strict=True))
    assert torch.equal(first[0], (a * b).t()) and kept[0] is not kept[1]


@pytest.mark.parametrize("make_opt", [
    lambda m: optim.SGD(m.parameters(), lr=0.2),
    lambda m: optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01),
    lambda m: optim.SGD(m.parameters(), lr=0.1, l1=0.001),
    lambda m: optim.Adam(m.parameters(), lr=0.01),
])
def test_fit_gives_the_same_run_whether_it_steps_a_whole_epoch_or_batch_by_batch(make_opt):
    """Without a per-batch callback fit hands the fast step whole epochs (TrainStep.epoch); with
    one it steps batch by batch. Same batches, same bits, same step count; and a model the fast
    step does not take (a frozen weight: the eager step) steps the same batches."""

    class Count(minidl.train.Callback):
        def __init__(self):
            self.batches = 0

        def on_batch_end(self, state, loss):
            self.batches += 1

    class Steps(minidl.train.Callback):
        def on_train_end(self, state):
            self.steps = state.step

    x, y = minidl.data.disk(230, seed=4)
    y = y.float().unsqueeze(1)
    runs = []
    for frozen in (False, True):
        for hooks in ([], [Count()]):
            torch.manual_seed(2)
            model = MODELS["seed"]()
            opt = make_opt(model)
            model[0].weight.requires_grad = not frozen
            steps = Steps()
            history = minidl.train.fit(model, nn.MSELoss(), opt, (x, y), epochs=3,
                                       batch_size=50, callbacks=[*hooks, steps],
                                       generator=torch.Generator().manual_seed(5),
                                       metrics=False)
            runs.append((history.train_loss, [p.data for p in model.parameters()], steps.steps))
            if hooks:
                assert hooks[0].batches == 15  # 5 batches (the last of 30 rows) in 3 epochs
    for (loss, params, steps), (hooked_loss, hooked_params, hooked_steps) in (runs[:2],
                                                                              runs[2:]):
        assert loss == hooked_loss and steps == hooked_steps == 15
        assert all(torch.equal(a, b) for a, b in zip(params, hooked_params, strict=True))
    assert runs[0][0] != runs[2][0]  # the frozen weight trained differently


def test_results_share_a_buffer_only_when_their_lives_do_not_overlap():
    from minidl.fast import workspace

    source = (
        "def f(a):\n"
        "    p = torch.sign(a)\n"          # read again through the tuple, at the end
        "    q = torch.exp(a)\n"           # last read in the next line
        "    pair = (p, q.sum())\n"
        "    r = torch.sin(a)\n"           # may take q's buffer, not p's
        "    u, v = pair\n"
        "    return u * r\n"
    )
    buffered = workspace.with_buffers(source, "f")
    assert buffered.count == 3
    assert buffered.lives == ((1, 6), (2, 3), (4, 6))
    namespace = dict(workspace.NAMESPACE)
    exec(buffered.keep + buffered.reuse, namespace)  # noqa: S102 - the test's own source
    a = torch.randn(4, 3)
    ws = [None] * buffered.count
    expected = namespace["f_keep"](a, ws)
    workspace.share(ws, buffered.lives, buffered.in_place)
    assert ws[2] is ws[1] and ws[0] is not ws[1]
    assert torch.equal(namespace["f_reuse"](a, ws), expected)
    assert torch.equal(expected, torch.sign(a) * torch.sin(a))


def test_a_stacks_step_shares_its_buffers():
    model = _stack(*STACKED_CHAINS["relu, sigmoid"])()
    step = TrainStep(model, nn.PerModelLoss(nn.MSELoss(), M),
                     optim.SGD(model.parameters(), lr=0.1))
    step(*_stacked_batches(False, False, count=1)[0])
    (ws,) = step._plan._workspaces.values()
    used = [t for t in ws if t is not None]
    assert len({id(t) for t in used}) < len(used)


def test_weights_replaced_by_others_of_another_width_get_buffers_of_their_own():
    """p.data = ... of another shape (no module change the plan would see): the workspace is
    keyed on the weights' shapes, so no buffer of the old width is written into."""
    torch.manual_seed(3)
    model = _stack(*STACKED_CHAINS["relu, sigmoid"])()
    eager = copy.deepcopy(model)
    loss_fn = nn.PerModelLoss(nn.MSELoss(), M)
    opt, eager_opt = (optim.SGD(m.parameters(), lr=0.1) for m in (model, eager))
    step = TrainStep(model, loss_fn, opt)
    batches = _stacked_batches(False, False, count=4)
    for i, (x, y) in enumerate(batches):
        if i == 2:  # hidden width 5 -> 7 in both copies
            for m in (model, eager):
                g = torch.Generator().manual_seed(4)
                m[0].weight.data = torch.randn(M, 7, 2, generator=g)
                m[0].bias.data = torch.randn(M, 7, generator=g)
                m[2].weight.data = torch.randn(M, 4, 7, generator=g)
                m[0].out_features = m[2].in_features = 7
        expected = _eager_step(eager, loss_fn, eager_opt, x, y)
        assert torch.equal(step(x, y).data, expected.data), f"step {i}"
        assert all(torch.equal(p.data, q.data)
                   for p, q in zip(model.parameters(), eager.parameters(), strict=True))
    assert len(step._plan._workspaces) == 2
