"""minidl.nn against torch.nn: registration, traversal, modes, dtypes, state dicts, repr, init."""

from __future__ import annotations

import math
import re

import pytest
import torch

import minidl
from minidl import nn


def build_net(lib):
    """The seeds' custom model (fc1, activation, fc2) with a nested block, in either library."""

    class Block(lib.Module):
        def __init__(self):
            super().__init__()
            self.c = lib.Linear(4, 4)
            self.scale = lib.Parameter(torch.ones(4))

        def forward(self, x):
            return self.c(x) * self.scale

    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = lib.Linear(2, 4)
            self.act = lib.Tanh()
            self.b = Block()
            self.fc2 = lib.Linear(4, 1, bias=False)
            self.note = "plain attributes are not registered"

        def forward(self, x):
            return self.fc2(self.b(self.act(self.fc1(x))))

    return Net()


def build_mlp(lib):
    """A Sequential with every layer kind the playground offers."""
    return lib.Sequential(
        lib.Linear(2, 5), lib.ReLU(), lib.Linear(5, 4), lib.LeakyReLU(0.2), lib.Linear(4, 3),
        lib.Tanh(), lib.Dropout(0.3), lib.Linear(3, 1, bias=False), lib.Sigmoid(),
    )


def names_and_shapes(items) -> list[tuple[str, tuple[int, ...]]]:
    return [(name, tuple(t.shape)) for name, t in items]


# ---------------------------------------------------------------------------------------------
# registration and traversal, against the same model written with torch.nn
# ---------------------------------------------------------------------------------------------


def test_assignment_registers_parameters_with_dotted_names_as_torch() -> None:
    ours, theirs = build_net(nn), build_net(torch.nn)
    assert names_and_shapes(ours.named_parameters()) == names_and_shapes(
        theirs.named_parameters()
    )
    assert [n for n, _ in ours.named_parameters()] == [
        "fc1.weight", "fc1.bias", "b.scale", "b.c.weight", "b.c.bias", "fc2.weight",
    ]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in ours.parameters())
    assert ours.note == "plain attributes are not registered"


def test_children_and_modules_as_torch() -> None:
    ours, theirs = build_net(nn), build_net(torch.nn)
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [type(m).__name__ for m in ours.children()] == [
        type(m).__name__ for m in theirs.children()
    ]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [type(m).__name__ for m in ours.modules()] == [
        type(m).__name__ for m in theirs.modules()
    ]


def test_attribute_access_reassignment_and_deletion() -> None:
    model = build_net(nn)
    assert isinstance(model.fc1, nn.Linear) and isinstance(model.b.c.weight, nn.Parameter)
    model.fc2 = nn.Linear(4, 3)
    assert dict(model.named_parameters())["fc2.weight"].shape == (3, 4)
    del model.act
    assert "act" not in dict(model.named_children())
    with pytest.raises(AttributeError, match="act"):
        model.act  # noqa: B018


def test_assigning_before_super_init_explains_itself() -> None:
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=re.escape("super().__init__()")):
        Broken()


def test_a_shared_parameter_is_listed_once_as_in_torch() -> None:
    def tied(lib):
        first = lib.Linear(3, 3)
        return lib.Sequential(first, lib.Tanh(), first)

    ours, theirs = tied(nn), tied(torch.nn)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_train_and_eval_reach_every_module() -> None:
    model = build_net(nn)
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model.train(False)
    assert not any(m.training for m in model.modules())


def test_zero_grad_clears_every_gradient() -> None:
    model = build_net(nn)
    model(torch.randn(5, 2)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize(
    ("convert", "dtype"),
    [
        (lambda m: m.double(), torch.float64),
        (lambda m: m.double().float(), torch.float32),
        (lambda m: m.to(torch.float64), torch.float64),
        (lambda m: m.to(torch.float16), torch.float16),
    ],
)
def test_dtype_conversion_of_every_parameter(convert, dtype) -> None:
    model = build_mlp(nn)
    assert convert(model) is model
    assert {p.dtype for p in model.parameters()} == {dtype}
    if dtype != torch.float16:
        assert model(torch.randn(3, 2, dtype=dtype)).dtype == dtype


def test_to_rejects_a_non_float_dtype() -> None:
    with pytest.raises(TypeError, match="floating-point"):
        build_mlp(nn).to(torch.int64)


# ---------------------------------------------------------------------------------------------
# state dicts, both ways with torch
# ---------------------------------------------------------------------------------------------


def test_state_dict_keys_and_shapes_equal_torch_sequential() -> None:
    ours, theirs = build_mlp(nn), build_mlp(torch.nn)
    assert names_and_shapes(ours.state_dict().items()) == names_and_shapes(
        theirs.state_dict().items()
    )
    assert ours.state_dict()["0.weight"].shape == (5, 2)  # (out, in), as torch
    assert all(isinstance(v, torch.Tensor) for v in ours.state_dict().values())


def test_state_dict_of_a_custom_model_equals_torch() -> None:
    ours, theirs = build_net(nn), build_net(torch.nn)
    assert names_and_shapes(ours.state_dict().items()) == names_and_shapes(
        theirs.state_dict().items()
    )


def same_outputs(ours, theirs, x: torch.Tensor) -> None:
    ours.eval()
    theirs.eval()
    with torch.no_grad():
        expected = theirs(x)
    tol = 1e-10 if x.dtype == torch.float64 else 1e-5
    torch.testing.assert_close(ours(x).data, expected, atol=tol, rtol=tol)


@pytest.mark.parametrize("build", [build_mlp, build_net], ids=["sequential", "custom"])
def test_minidl_weights_load_into_torch(build) -> None:
    ours, theirs = build(nn), build(torch.nn)
    result = theirs.load_state_dict(ours.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    same_outputs(ours, theirs, torch.randn(16, 2))
    same_outputs(ours.double(), theirs.double(), torch.randn(16, 2, dtype=torch.float64))


@pytest.mark.parametrize("build", [build_mlp, build_net], ids=["sequential", "custom"])
def test_torch_weights_load_into_minidl(build) -> None:
    ours, theirs = build(nn), build(torch.nn)
    assert ours.load_state_dict(theirs.state_dict(), strict=True) == ([], [])
    same_outputs(ours, theirs, torch.randn(16, 2))
    same_outputs(ours.double(), theirs.double(), torch.randn(16, 2, dtype=torch.float64))


def test_load_state_dict_copies_values() -> None:
    ours, theirs = build_mlp(nn), build_mlp(torch.nn)
    state = theirs.state_dict()
    ours.load_state_dict(state)
    before = ours.state_dict()["0.weight"].clone()
    with torch.no_grad():
        state["0.weight"].add_(1.0)
    assert torch.equal(ours.state_dict()["0.weight"], before)


def test_load_state_dict_converts_to_the_model_dtype() -> None:
    ours, theirs = build_mlp(nn).double(), build_mlp(torch.nn)
    ours.load_state_dict(theirs.state_dict())
    assert {p.dtype for p in ours.parameters()} == {torch.float64}
    same_outputs(ours, theirs.double(), torch.randn(4, 2, dtype=torch.float64))


def test_load_state_dict_missing_key() -> None:
    model = build_mlp(nn)
    state = dict(build_mlp(torch.nn).state_dict())
    del state["2.bias"]
    with pytest.raises(KeyError, match=r"missing.*'2\.bias'"):
        model.load_state_dict(state)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert (missing, unexpected) == (["2.bias"], [])
    torch.testing.assert_close(model.state_dict()["2.weight"], state["2.weight"])


def test_load_state_dict_unexpected_key() -> None:
    model = build_mlp(nn)
    state = dict(build_mlp(torch.nn).state_dict())
    state["9.weight"] = torch.zeros(1, 1)
    with pytest.raises(KeyError, match=r"unexpected.*'9\.weight'"):
        model.load_state_dict(state)
    assert model.load_state_dict(state, strict=False) == ([], ["9.weight"])


def test_load_state_dict_shape_mismatch_names_key_and_shapes_and_loads_nothing() -> None:
    model = build_mlp(nn)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = dict(build_mlp(torch.nn).state_dict())
    state["4.weight"] = torch.zeros(4, 3)  # the model's is (3, 4)
    for strict in (True, False):  # torch also refuses a shape mismatch when strict=False
        with pytest.raises(KeyError, match=r"'4\.weight'.*\(4, 3\).*\(3, 4\)"):
            model.load_state_dict(state, strict=strict)
    # never half-loaded: the layers before the bad one kept their values too
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# ---------------------------------------------------------------------------------------------
# repr
# ---------------------------------------------------------------------------------------------


def torch_repr(model) -> str:
    # minidl's Dropout has no inplace option, so it rightly does not print one
    return repr(model).replace(", inplace=False", "")


def test_repr_equals_torch_for_the_playground_layers() -> None:
    def layers(lib):
        return lib.Sequential(
            lib.Linear(2, 8), lib.ReLU(), lib.Linear(8, 8, bias=False), lib.Tanh(),
            lib.LeakyReLU(), lib.LeakyReLU(0.2), lib.Dropout(0.25), lib.Dropout(),
            lib.Linear(8, 3), lib.Softmax(dim=1), lib.LogSoftmax(dim=-1), lib.Sigmoid(),
            lib.Sequential(lib.Linear(3, 1), lib.Identity()),
        )

    assert repr(layers(nn)) == torch_repr(layers(torch.nn))
    assert repr(build_net(nn)) == torch_repr(build_net(torch.nn))


def test_repr_equals_torch_for_the_newer_activations() -> None:
    def layers(lib):
        return lib.Sequential(
            lib.ELU(), lib.ELU(alpha=0.5), lib.GELU(), lib.GELU(approximate="none"), lib.SiLU(),
            lib.Softplus(), lib.Softplus(beta=2.0, threshold=5.0),
        )

    assert repr(layers(nn)) == torch_repr(layers(torch.nn))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: nn.ELU(alpha="1"), "ELU: alpha must be a number"),
        (lambda: nn.GELU(approximate="tanh"), "only the exact GELU"),
        (lambda: nn.Softplus(beta=0), "Softplus: beta must not be 0"),
        (lambda: nn.Softplus(threshold=None), "Softplus: threshold must be a number"),
    ],
)
def test_newer_activations_refuse_bad_settings_by_name(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make()
    assert repr(nn.Linear(3, 4)) == repr(torch.nn.Linear(3, 4))


# ---------------------------------------------------------------------------------------------
# Linear: initialisation, inputs, shape errors
# ---------------------------------------------------------------------------------------------


def spread_over(values: torch.Tensor, bound: float) -> None:
    """All values in [-bound, bound], reaching close to both ends, about uniformly."""
    values = values.flatten().double()
    assert values.abs().max() <= bound
    assert values.min() < -0.97 * bound and values.max() > 0.97 * bound
    counts = torch.histc(values, bins=10, min=-bound, max=bound) / values.numel()
    assert (counts - 0.1).abs().max() < 0.02, counts


def test_linear_default_init_is_xavier_uniform_with_zero_bias() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(300, 200)
    spread_over(layer.weight.data, math.sqrt(6 / (300 + 200)))
    assert torch.equal(layer.bias.data, torch.zeros(200))


def test_linear_torch_init_matches_torch_bound() -> None:
    torch.manual_seed(0)
    ours = nn.Linear(400, 3000, init="torch")
    bound = 1 / math.sqrt(400)
    spread_over(ours.weight.data, bound)
    spread_over(ours.bias.data, bound)
    theirs = torch.nn.Linear(400, 3000)
    assert theirs.weight.abs().max().item() <= bound and theirs.bias.abs().max().item() <= bound
    # the same distribution as torch's: equal variances (bound² / 3) within sampling error
    for mine, ref in ((ours.weight.data, theirs.weight), (ours.bias.data, theirs.bias)):
        assert mine.var().item() == pytest.approx(ref.detach().var().item(), rel=0.1)


def test_linear_init_can_be_seeded_with_a_generator() -> None:
    a = nn.Linear(3, 4, generator=torch.Generator().manual_seed(5))
    b = nn.Linear(3, 4, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.weight.data, b.weight.data)


def test_model_gradients_match_torch_for_inputs_and_parameters() -> None:
    ours, theirs = build_mlp(nn).double().eval(), build_mlp(torch.nn).double().eval()
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(6, 2, dtype=torch.float64)
    xo = minidl.Tensor(x, requires_grad=True)
    xt = x.clone().requires_grad_(True)
    ours(xo).sum().backward()
    theirs(xt).sum().backward()
    torch.testing.assert_close(xo.grad, xt.grad, atol=1e-10, rtol=1e-10)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-10, rtol=1e-10, msg=name)


def test_model_accepts_a_torch_tensor_and_a_minidl_tensor() -> None:
    model = build_mlp(nn).eval()
    x = torch.randn(5, 2)
    from_torch, from_minidl = model(x), model(minidl.Tensor(x))
    assert isinstance(from_torch, minidl.Tensor) and isinstance(from_minidl, minidl.Tensor)
    assert torch.equal(from_torch.data, from_minidl.data)


@pytest.mark.parametrize(
    ("model", "x", "index", "expected", "got"),
    [
        (lambda: nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(3, 1)), (5, 2), "2",
         "(N, 3)", "(5, 4)"),
        (lambda: nn.Sequential(nn.Linear(2, 4), nn.Tanh()), (7, 3), "0", "(N, 2)", "(7, 3)"),
        (lambda: nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Linear(5, 1))),
         (1, 2), "1.1", "(N, 5)", "(1, 2)"),
    ],
)
def test_wrong_input_width_raises_shape_error_naming_layer_and_shapes(
    model, x, index, expected, got
) -> None:
    with pytest.raises(nn.ShapeError) as info:
        model()(torch.zeros(x))
    message = str(info.value)
    assert re.search(rf"\blayer {re.escape(index)}\b", message), message
    assert expected in message and got in message, message
    assert isinstance(info.value, ValueError)


# ---------------------------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [-0.5, 1, 1.0, 2.0])
def test_dropout_rejects_p_outside_unit_interval(p) -> None:
    with pytest.raises(ValueError, match="Dropout"):
        nn.Dropout(p)


def test_dropout_is_active_in_training_and_inactive_in_eval() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Dropout(0.5))
    x = torch.ones(1000)
    assert torch.equal(model.eval()(x).data, x)
    out = model.train()(x).data
    assert set(out.unique().tolist()) == {0.0, 2.0}
    assert 0.4 < (out == 0).double().mean().item() < 0.6


def test_dropout_p_zero_passes_through_in_training() -> None:
    x = torch.randn(3, 4)
    assert torch.equal(nn.Dropout(0.0)(x).data, x)


def test_a_shared_module_is_listed_once_but_named_twice_in_the_state_dict():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, shared)
    twin = torch.nn.Sequential(*[torch.nn.Linear(2, 2)] * 2)
    assert len(list(model.modules())) == len(list(twin.modules())) == 2
    assert list(model.state_dict()) == list(twin.state_dict())
    assert len(list(model.parameters())) == len(list(twin.parameters())) == 2


def test_state_dict_errors_are_runtime_errors_as_in_torch():
    with pytest.raises(RuntimeError, match="missing keys"):
        nn.Sequential(nn.Linear(2, 2)).load_state_dict({})
