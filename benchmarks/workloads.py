"""The same MLP training written three ways: minidl, PyTorch (nn + autograd + optim), and by hand.

All three do exactly the same work per epoch: draw a permutation from a seeded generator, index
the data once, then take contiguous mini-batches of it; per batch: forward, MSE loss, backward,
plain SGD update. The hand-written loop is the floor an engine can hope for in Python: torch ops
only, ``addmm`` forward, the backward formulas written out, in-place updates, no graph.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

import minidl
from minidl import nn
from minidl.train import fit, predict


@dataclass(frozen=True)
class MLPSpec:
    """A fully connected network and how to train it (the seed experiment by default)."""

    sizes: tuple[int, ...] = (2, 25, 25, 25, 1)
    hidden: str = "relu"  # relu | tanh
    output: str = "sigmoid"  # sigmoid | tanh | none
    lr: float = 0.1
    batch_size: int = 50
    epochs: int = 100
    init: str = "xavier"  # minidl's Linear init: xavier | torch

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.n_train // self.batch_size)

    n_train: int = 1000


SEED = MLPSpec()
WIDE = MLPSpec(sizes=(2, 512, 512, 512, 1), batch_size=1024, epochs=2, n_train=8192)


def disk_data(n: int, out_features: int = 1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The seeds' disk, targets as float (n, 1) 0/1 columns (or ±1 one-hot for 2 outputs)."""
    x, y = minidl.data.disk(n, seed=seed)
    if out_features == 1:
        return x, y.to(torch.float32).unsqueeze(1)
    return x, minidl.data.plus_minus_one(y, out_features)


# ---------------------------------------------------------------------------------------------
# minidl
# ---------------------------------------------------------------------------------------------

_MINIDL_ACT = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
_TORCH_ACT = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}


def minidl_model(spec: MLPSpec) -> nn.Sequential:
    layers: list[nn.Module] = []
    pairs = list(zip(spec.sizes[:-1], spec.sizes[1:], strict=True))
    for i, (a, b) in enumerate(pairs):
        layers.append(nn.Linear(a, b, init=spec.init))
        act = spec.hidden if i < len(pairs) - 1 else spec.output
        if act != "none":
            layers.append(_MINIDL_ACT[act]())
    return nn.Sequential(*layers)


def torch_model(spec: MLPSpec) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    pairs = list(zip(spec.sizes[:-1], spec.sizes[1:], strict=True))
    for i, (a, b) in enumerate(pairs):
        layers.append(torch.nn.Linear(a, b))
        act = spec.hidden if i < len(pairs) - 1 else spec.output
        if act != "none":
            layers.append(_TORCH_ACT[act]())
    return torch.nn.Sequential(*layers)


def train_minidl(spec: MLPSpec, x: torch.Tensor, y: torch.Tensor, seed: int = 0) -> float:
    """Seconds for ``fit`` (no per-epoch metrics) on a fresh model."""
    torch.manual_seed(seed)
    model = minidl_model(spec)
    opt = minidl.optim.SGD(model.parameters(), lr=spec.lr)
    loss_fn = nn.MSELoss()
    gen = torch.Generator().manual_seed(seed)
    start = time.process_time()
    fit(model, loss_fn, opt, (x, y), spec.epochs, spec.batch_size, generator=gen, metrics=False)
    return time.process_time() - start


def train_minidl_loop(spec: MLPSpec, x: torch.Tensor, y: torch.Tensor, seed: int = 0) -> float:
    """Seconds for the same training written as the usual explicit loop over ``batches``."""
    torch.manual_seed(seed)
    model = minidl_model(spec)
    opt = minidl.optim.SGD(model.parameters(), lr=spec.lr)
    loss_fn = nn.MSELoss()
    gen = torch.Generator().manual_seed(seed)
    start = time.process_time()
    for _ in range(spec.epochs):
        for xb, yb in minidl.data.batches(x, y, spec.batch_size, generator=gen):
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.process_time() - start


# ---------------------------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------------------------


def train_torch(spec: MLPSpec, x: torch.Tensor, y: torch.Tensor, seed: int = 0) -> float:
    """Seconds for the idiomatic PyTorch loop: nn.Sequential, nn.MSELoss, optim.SGD, autograd."""
    torch.manual_seed(seed)
    model = torch_model(spec)
    opt = torch.optim.SGD(model.parameters(), lr=spec.lr)
    loss_fn = torch.nn.MSELoss()
    gen = torch.Generator().manual_seed(seed)
    n = len(x)
    start = time.process_time()
    for _ in range(spec.epochs):
        perm = torch.randperm(n, generator=gen)
        xs, ys = x[perm], y[perm]
        for i in range(0, n, spec.batch_size):
            loss = loss_fn(model(xs[i : i + spec.batch_size]), ys[i : i + spec.batch_size])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.process_time() - start


# ---------------------------------------------------------------------------------------------
# by hand
# ---------------------------------------------------------------------------------------------


def train_by_hand(spec: MLPSpec, x: torch.Tensor, y: torch.Tensor, seed: int = 0) -> float:
    """Seconds for the same steps with the backward pass written out: the floor for Python."""
    torch.manual_seed(seed)
    weights, biases = [], []
    for a, b in zip(spec.sizes[:-1], spec.sizes[1:], strict=True):
        bound = (6.0 / (a + b)) ** 0.5
        weights.append(torch.empty(b, a).uniform_(-bound, bound))
        biases.append(torch.zeros(b))
    last = len(weights) - 1
    relu = spec.hidden == "relu"
    gen = torch.Generator().manual_seed(seed)
    n, lr = len(x), spec.lr
    start = time.process_time()
    for _ in range(spec.epochs):
        perm = torch.randperm(n, generator=gen)
        xs, ys = x[perm], y[perm]
        for i in range(0, n, spec.batch_size):
            xb, yb = xs[i : i + spec.batch_size], ys[i : i + spec.batch_size]
            # forward, keeping every layer's input
            inputs = [xb]
            h = xb
            for k in range(last):
                h = torch.addmm(biases[k], h, weights[k].t())
                h = h.clamp_min_(0) if relu else h.tanh_()
                inputs.append(h)
            out = torch.addmm(biases[last], h, weights[last].t())
            if spec.output == "sigmoid":
                out = out.sigmoid_()
            elif spec.output == "tanh":
                out = out.tanh_()
            diff = out - yb
            loss = (diff * diff).mean()  # noqa: F841 - computed as the others do, not used
            # backward: dL/dout, through the output activation, then layer by layer; the same
            # formulas as minidl's (sign(h) is ReLU's step since h >= 0; y - y·y is y(1 - y))
            g = diff.mul_(2.0 / diff.numel())
            if spec.output == "sigmoid":
                g = g.mul_(out - out * out)
            elif spec.output == "tanh":
                g = g.sub_(g * out * out)
            for k in range(last, -1, -1):
                grad_w = torch.mm(g.t(), inputs[k])
                grad_b = g.sum(0)
                if k > 0:
                    h = inputs[k]
                    g = torch.mm(g, weights[k])
                    g = g.mul_(torch.sign(h)) if relu else g.sub_(g * h * h)
                weights[k].add_(grad_w, alpha=-lr)
                biases[k].add_(grad_b, alpha=-lr)
    return time.process_time() - start


# ---------------------------------------------------------------------------------------------
# the decision grid
# ---------------------------------------------------------------------------------------------


def grid(resolution: int = 100) -> torch.Tensor:
    """The playground's decision grid over [0, 1]²: resolution² points, float32 (n, 2)."""
    ticks = torch.linspace(0, 1, resolution)
    gx, gy = torch.meshgrid(ticks, ticks, indexing="xy")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)


def predict_grid_minidl(model: nn.Module, points: torch.Tensor, calls: int) -> float:
    """Median seconds of one ``predict`` over the grid."""
    times = []
    for _ in range(calls):
        start = time.process_time()
        predict(model, points)
        times.append(time.process_time() - start)
    times.sort()
    return times[len(times) // 2]


def predict_grid_torch(model: torch.nn.Module, points: torch.Tensor, calls: int) -> float:
    times = []
    model.eval()
    for _ in range(calls):
        start = time.process_time()
        with torch.no_grad():
            model(points)
        times.append(time.process_time() - start)
    times.sort()
    return times[len(times) // 2]
