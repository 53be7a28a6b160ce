"""Issue 13's activations in training: one step of the seed network with each hidden activation.

The seed's 2-25-25-25-1 network with ReLU, Tanh, ELU, GELU, SiLU, Softplus or Sine between the
Linear layers (no output activation), MSE, plain SGD, batch 50 of the seeds' disk. Three
contenders, interleaved (``common.interleaved``), CPU time of this process: minidl's fast step
(``fit``: ``minidl.fast.TrainStep``), minidl's eager step (the explicit loop, a graph per step)
and PyTorch (nn + autograd + optim; Sine as a one-line module). The table is the median time of
one step and the ratios.

    python -m benchmarks.activations [--repeats 7] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import torch

import minidl
from minidl import nn
from minidl.train import fit

from .common import interleaved, machine_summary, markdown_table, median


class TorchSine(torch.nn.Module):
    """sin(x): torch.nn has no such layer."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x)


ACTIVATIONS: dict[str, tuple[type, Callable[[], torch.nn.Module]]] = {
    "ReLU": (nn.ReLU, torch.nn.ReLU),
    "Tanh": (nn.Tanh, torch.nn.Tanh),
    "ELU": (nn.ELU, torch.nn.ELU),
    "GELU": (nn.GELU, torch.nn.GELU),
    "SiLU": (nn.SiLU, torch.nn.SiLU),
    "Softplus": (nn.Softplus, torch.nn.Softplus),
    "Sine": (nn.Sine, TorchSine),
}
SIZES = (2, 25, 25, 25, 1)
LR, BATCH = 0.01, 50


def _layers(lib: object, activation: Callable[[], object]) -> list:
    layers = []
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
        layers.append(lib.Linear(a, b))  # type: ignore[attr-defined]
        if i < len(SIZES) - 2:
            layers.append(activation())
    return layers


def _data(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = minidl.data.disk(n, seed=0)
    return x, y.to(torch.float32).unsqueeze(1)


def minidl_fast(activation: type, x: torch.Tensor, y: torch.Tensor, epochs: int) -> float:
    """CPU seconds of ``fit`` (the fast step), no per-epoch metrics."""
    torch.manual_seed(0)
    model = nn.Sequential(*_layers(nn, activation))
    opt = minidl.optim.SGD(model.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(0)
    start = time.process_time()
    fit(model, nn.MSELoss(), opt, (x, y), epochs, BATCH, generator=gen, metrics=False)
    return time.process_time() - start


def _loop(model: object, opt: object, loss_fn: object, x: torch.Tensor, y: torch.Tensor,
          epochs: int) -> float:
    """CPU seconds of the explicit loop (forward, loss, zero_grad, backward, step), in either
    engine: the same code drives minidl's eager step and PyTorch."""
    gen = torch.Generator().manual_seed(0)
    start = time.process_time()
    for _ in range(epochs):
        for xb, yb in minidl.data.batches(x, y, BATCH, generator=gen):
            loss = loss_fn(model(xb), yb)  # type: ignore[operator]
            opt.zero_grad()  # type: ignore[attr-defined]
            loss.backward()
            opt.step()  # type: ignore[attr-defined]
    return time.process_time() - start


def minidl_eager(activation: type, x: torch.Tensor, y: torch.Tensor, epochs: int) -> float:
    """CPU seconds of minidl's eager loop: a graph per step, backward walks it."""
    torch.manual_seed(0)
    model = nn.Sequential(*_layers(nn, activation))
    return _loop(model, minidl.optim.SGD(model.parameters(), lr=LR), nn.MSELoss(), x, y, epochs)


def pytorch(activation: Callable[[], torch.nn.Module], x: torch.Tensor, y: torch.Tensor,
            epochs: int) -> float:
    """CPU seconds of the idiomatic PyTorch loop over the same batches."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(*_layers(torch.nn, activation))
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    return _loop(model, opt, torch.nn.MSELoss(), x, y, epochs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.activations", description=__doc__)
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per contender (7)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    n, epochs, repeats = (100, 1, 1) if args.quick else (1000, 20, args.repeats)
    x, y = _data(n)
    steps = epochs * -(-n // BATCH)
    rows = []
    for name, (ours, theirs) in ACTIVATIONS.items():
        times = interleaved(
            {
                "fast": lambda ours=ours: minidl_fast(ours, x, y, epochs),
                "eager": lambda ours=ours: minidl_eager(ours, x, y, epochs),
                "torch": lambda theirs=theirs: pytorch(theirs, x, y, epochs),
            },
            repeats,
        )
        fast, eager, ref = (median(times[k]) / steps for k in ("fast", "eager", "torch"))
        rows.append([name, f"{fast * 1e6:.0f} µs", f"{eager * 1e6:.0f} µs", f"{ref * 1e6:.0f} µs",
                     f"{fast / ref:.2f}", f"{eager / ref:.2f}", f"{eager / fast:.2f}"])
    print(machine_summary())
    print(f"{steps} steps per run, {repeats} runs per contender, medians of one step\n")
    print(markdown_table(
        ["hidden activation", "minidl fast", "minidl eager", "PyTorch", "fast/PyTorch",
         "eager/PyTorch", "eager/fast"],
        rows,
    ))
    return 0


if __name__ == "__main__":
    sys.exit(main())
