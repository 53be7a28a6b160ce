"""minidl.optim against torch.optim: the same start and the same gradients give the same weights."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

import minidl
from minidl import nn, optim

STEPS = 20
SHAPES = [(3, 4), (4,), (1,)]


def gradient_sequence(steps: int = STEPS) -> list[list[torch.Tensor | None]]:
    """A fixed float64 gradient per parameter per step; the last parameter skips odd steps."""
    gen = torch.Generator().manual_seed(0)
    sequence = []
    for t in range(steps):
        grads = [torch.randn(s, generator=gen, dtype=torch.float64) for s in SHAPES]
        if t % 2:
            grads[-1] = None  # a parameter without a gradient is left alone, as in torch
        sequence.append(grads)
    return sequence


def run_both(
    make: Callable, torch_make: Callable, between: Callable | None = None
) -> tuple[list[minidl.Tensor], list[torch.Tensor]]:
    """Step a minidl and a torch optimiser over the same start and gradient sequence."""
    gen = torch.Generator().manual_seed(1)
    start = [torch.randn(s, generator=gen, dtype=torch.float64) for s in SHAPES]
    ours = [nn.Parameter(v.clone()) for v in start]
    theirs = [torch.nn.Parameter(v.clone()) for v in start]
    opt_ours, opt_theirs = make(ours), torch_make(theirs)
    for t, grads in enumerate(gradient_sequence()):
        if between is not None:
            between(t, opt_ours)
            between(t, opt_theirs)
        for p, q, g in zip(ours, theirs, grads, strict=True):
            p.grad = None if g is None else g.clone()
            q.grad = None if g is None else g.clone()
        opt_ours.step()
        opt_theirs.step()
    return ours, theirs


def assert_same_parameters(ours, theirs) -> None:
    for i, (p, q) in enumerate(zip(ours, theirs, strict=True)):
        torch.testing.assert_close(p.data, q.detach(), atol=1e-10, rtol=1e-10, msg=f"param {i}")


SGD_CONFIGS = {
    "plain": dict(lr=0.1),
    "momentum": dict(lr=0.1, momentum=0.9),
    "dampening": dict(lr=0.1, momentum=0.9, dampening=0.3),
    "nesterov": dict(lr=0.05, momentum=0.9, nesterov=True),
    "weight_decay": dict(lr=0.1, weight_decay=0.01),
    "momentum_weight_decay": dict(lr=0.1, momentum=0.5, weight_decay=0.1),
    "nesterov_weight_decay": dict(lr=0.1, momentum=0.8, weight_decay=0.05, nesterov=True),
    "all_but_nesterov": dict(lr=0.2, momentum=0.7, dampening=0.1, weight_decay=0.02),
}

ADAM_CONFIGS = {
    "default": dict(),
    "lr": dict(lr=0.05),
    "betas_eps": dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6),
    "weight_decay": dict(lr=0.01, weight_decay=0.1),
}


@pytest.mark.parametrize("config", SGD_CONFIGS.values(), ids=SGD_CONFIGS.keys())
def test_sgd_matches_torch(config) -> None:
    assert_same_parameters(
        *run_both(lambda ps: optim.SGD(ps, **config), lambda ps: torch.optim.SGD(ps, **config))
    )


@pytest.mark.parametrize("config", ADAM_CONFIGS.values(), ids=ADAM_CONFIGS.keys())
def test_adam_matches_torch(config) -> None:
    assert_same_parameters(
        *run_both(lambda ps: optim.Adam(ps, **config), lambda ps: torch.optim.Adam(ps, **config))
    )


def change_lr(t: int, opt) -> None:
    if t == 7:
        opt.param_groups[0]["lr"] = 0.01
    if t == 13:
        opt.param_groups[0]["lr"] *= 5


@pytest.mark.parametrize(
    ("ours", "theirs", "config"),
    [
        (optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
        (optim.Adam, torch.optim.Adam, dict(lr=0.02)),
    ],
    ids=["SGD", "Adam"],
)
def test_changing_lr_between_steps_behaves_as_torch(ours, theirs, config) -> None:
    assert_same_parameters(
        *run_both(lambda ps: ours(ps, **config), lambda ps: theirs(ps, **config), change_lr)
    )


@pytest.mark.parametrize(
    ("ours", "theirs"), [(optim.SGD, torch.optim.SGD), (optim.Adam, torch.optim.Adam)]
)
def test_parameter_groups_with_their_own_settings_match_torch(ours, theirs) -> None:
    def groups(ps):
        return [{"params": ps[:1], "lr": 0.05}, {"params": ps[1:], "weight_decay": 0.1}]

    assert_same_parameters(
        *run_both(lambda ps: ours(groups(ps), lr=0.01), lambda ps: theirs(groups(ps), lr=0.01))
    )


def test_training_a_model_matches_torch() -> None:
    """Real gradients from backward(), 20 SGD-with-momentum steps, float64."""
    ours = nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 1), nn.Sigmoid()).double()
    theirs = torch.nn.Sequential(
        torch.nn.Linear(2, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1), torch.nn.Sigmoid()
    ).double()
    theirs.load_state_dict(ours.state_dict())
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(32, 2, generator=gen, dtype=torch.float64)
    y = (x.sum(1, keepdim=True) > 1).double()
    opt_ours = optim.SGD(ours.parameters(), lr=0.5, momentum=0.9, nesterov=True)
    opt_theirs = torch.optim.SGD(theirs.parameters(), lr=0.5, momentum=0.9, nesterov=True)
    for _ in range(STEPS):
        opt_ours.zero_grad()
        opt_theirs.zero_grad()
        nn.BCELoss()(ours(x), y).backward()
        torch.nn.BCELoss()(theirs(x), y).backward()
        opt_ours.step()
        opt_theirs.step()
    assert_same_parameters(list(ours.parameters()), list(theirs.parameters()))


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1), lambda ps: optim.Adam(ps)])
def test_zero_grad(make) -> None:
    p = nn.Parameter(torch.ones(3))
    opt = make([p])
    p.grad = torch.ones(3)
    opt.zero_grad(set_to_none=False)
    assert torch.equal(p.grad, torch.zeros(3))
    opt.zero_grad()  # torch's default: set_to_none=True
    assert p.grad is None
    opt.step()  # nothing to do without gradients
    assert torch.equal(p.data, torch.ones(3))


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam])
def test_empty_parameter_list_raises(cls) -> None:
    with pytest.raises(ValueError, match="empty parameter list"):
        cls([], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        cls(nn.Sequential(nn.ReLU()).parameters(), lr=0.1)


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam])
def test_negative_lr_raises(cls) -> None:
    with pytest.raises(ValueError, match="learning rate"):
        cls([nn.Parameter(torch.ones(2))], lr=-0.1)


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam])
def test_negative_lr_set_between_steps_raises_at_the_step(cls) -> None:
    p = nn.Parameter(torch.ones(2))
    opt = cls([p], lr=0.1)
    opt.param_groups[0]["lr"] = -1.0
    p.grad = torch.ones(2)
    with pytest.raises(ValueError, match="learning rate"):
        opt.step()


def test_nesterov_needs_momentum_and_no_dampening_as_torch() -> None:
    p = nn.Parameter(torch.ones(2))
    for config in (dict(nesterov=True), dict(nesterov=True, momentum=0.9, dampening=0.1)):
        with pytest.raises(ValueError):
            torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=0.1, **config)
        with pytest.raises(ValueError, match="Nesterov"):
            optim.SGD([p], lr=0.1, **config)
