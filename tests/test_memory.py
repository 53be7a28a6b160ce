"""No graph outlives its backward: freed nodes, dead intermediates, steady memory.

Weak references tell whether an object is still alive without keeping it so. After
``loss.backward()`` the graph must let go of every intermediate Tensor (even while the caller
still holds the loss), and the loss's node must die with the loss.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest
import torch

import minidl
from minidl import nn


def seed_network() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(2, 25), nn.ReLU(), nn.Linear(25, 25), nn.ReLU(),
        nn.Linear(25, 25), nn.ReLU(), nn.Linear(25, 1), nn.Sigmoid(),
    )


def test_the_graph_holds_no_intermediate_tensor_and_frees_what_it_saved():
    torch.manual_seed(0)
    model = seed_network()
    x, y = minidl.data.disk(50, seed=0)
    out = model(x)
    loss = nn.MSELoss()(out, y.float().unsqueeze(1))
    inner_node = out.grad_fn  # the Sigmoid's node: it saved its output for backward
    saved = weakref.ref(inner_node.saved[0])
    out_ref = weakref.ref(out)
    del out
    assert out_ref() is None  # nodes link to nodes, never to the Tensors the user holds
    assert saved() is not None  # what backward needs is kept until it runs
    loss.backward()
    assert saved() is None and inner_node.saved is None  # freed by backward
    node = weakref.ref(loss.grad_fn)
    del loss, inner_node
    assert node() is None  # no cycles: the graph dies with the loss


def test_a_hand_built_graph_is_freed_and_its_saved_tensors_dropped():
    a = minidl.Tensor(torch.randn(4, 3), requires_grad=True)
    h = (a * 2).tanh()
    loss = (h * h).sum()
    node, h_ref = h.grad_fn, weakref.ref(h)
    del h
    assert h_ref() is None
    loss.backward()
    assert node.saved is None
    assert [n.name for n in minidl.graph_of(loss)] == ["Sum", "Mul", "Tanh", "Mul"]
    assert a.grad is not None


def test_retain_graph_keeps_the_graph_for_a_second_backward():
    a = minidl.Tensor(torch.randn(3), requires_grad=True)
    loss = (a.tanh() * 3).sum()
    loss.backward(retain_graph=True)
    first = a.grad.clone()
    loss.backward()
    torch.testing.assert_close(a.grad, 2 * first)


class _Wrapped(nn.Module):
    """The seed network inside a module of our own: a model the fast step does not take."""

    def __init__(self) -> None:
        super().__init__()
        self.body = seed_network()

    def forward(self, x):
        return self.body(x)


@pytest.mark.parametrize("make_model", [seed_network, _Wrapped], ids=["fast", "eager"])
def test_fit_keeps_no_graph_between_steps(make_model):
    torch.manual_seed(0)
    model = make_model()
    x, y = minidl.data.disk(200, seed=1)
    seen: list = []

    class WatchLoss(minidl.train.Callback):
        def on_batch_end(self, state, loss):
            # the fast step records no graph at all; the eager one's node must die
            node = loss.grad_fn
            seen.append(None if node is None else weakref.ref(node))

    opt = minidl.optim.SGD(model.parameters(), lr=0.1)
    fast = minidl.TrainStep(model, nn.MSELoss(), opt).fast
    assert fast == (make_model is seed_network)
    minidl.train.fit(model, nn.MSELoss(), opt, (x, y.float().unsqueeze(1)), epochs=2,
                     batch_size=50, callbacks=[WatchLoss()], metrics=False)
    assert len(seen) == 8
    if fast:
        assert all(r is None for r in seen)
    else:
        assert all(r is not None and r() is None for r in seen)


def _rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1])


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")
def test_rss_is_steady_over_a_few_thousand_steps():
    torch.manual_seed(0)
    model = seed_network()
    x, y = minidl.data.disk(1000, seed=2)
    t = y.float().unsqueeze(1)
    opt = minidl.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.MSELoss()
    gen = torch.Generator().manual_seed(0)

    def train(epochs: int) -> None:
        for _ in range(epochs):
            for xb, yb in minidl.data.batches(x, t, 50, generator=gen):
                loss = loss_fn(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()

    train(10)  # warm up: allocator pools, lazily built caches
    gc.collect()
    before = _rss()
    train(100)  # 2000 steps
    gc.collect()
    growth = (_rss() - before) / before
    assert growth < 0.05, f"RSS grew by {growth:.1%} over 2000 steps"
