"""What the seed experiments share: arguments, output folder, models, training, figures."""

from __future__ import annotations

import argparse
import datetime
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

import minidl
from minidl import nn
from minidl.train import fit, predict

from .common import EXPERIMENTS_DIR, machine_summary
from .workloads import MLPSpec, minidl_model, torch_model


def parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--runs", type=int, default=10, help="independent runs per setting (10)")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    p.add_argument(
        "--out", type=Path, default=None,
        help=f"folder for the table and figure (default {EXPERIMENTS_DIR.relative_to(Path.cwd())}"
        " if run from the repository; a temporary folder with --quick)"
        if EXPERIMENTS_DIR.is_relative_to(Path.cwd()) else "folder for the table and figure",
    )
    return p


def output_dir(args: argparse.Namespace) -> Path:
    """Where to write: --out, else docs/experiments (a fresh temporary folder for --quick)."""
    if args.out is not None:
        out = args.out
    elif args.quick:
        out = Path(tempfile.mkdtemp(prefix="minidl-experiment-"))
    else:
        out = EXPERIMENTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    return out


def header(title: str, command: str) -> str:
    """The top of a results page: title, command, date and machine."""
    return (
        f"# {title}\n\nReproduce with `{command}` (run {datetime.date.today().isoformat()}).\n\n"
        f"{machine_summary()}\n"
    )


def disk_split(seed: int, n_train: int = 1000, n_test: int = 1000) -> tuple[Any, ...]:
    """Fresh training and test sets from the seeds' disk (independent draws)."""
    x_train, y_train = minidl.data.disk(n_train, seed=2 * seed)
    x_test, y_test = minidl.data.disk(n_test, seed=2 * seed + 1)
    return x_train, y_train, x_test, y_test


def accuracy(scores: torch.Tensor, labels: torch.Tensor, threshold: float = 0.5) -> float:
    """Fraction of points whose predicted class (argmax, or score > threshold) is right."""
    predicted = minidl.data.labels_from_scores(scores, threshold=threshold)
    return (predicted == labels).double().mean().item()


def train_minidl(
    spec: MLPSpec, x: torch.Tensor, t: torch.Tensor, seed: int, *, reduction: str = "mean",
    **fit_kwargs: Any,
) -> tuple[nn.Module, float, Any]:
    """(model, CPU seconds of fit, history) for a fresh minidl model seeded with ``seed``.

    ``reduction``: the MSE's, "mean" (as torch and the seeds) or "sum" over the batch.
    """
    gen = minidl.train.seed_everything(seed)
    model = minidl_model(spec)
    opt = minidl.optim.SGD(model.parameters(), lr=spec.lr)
    fit_kwargs.setdefault("metrics", False)
    start = time.process_time()
    loss_fn = nn.MSELoss(reduction=reduction)
    history = fit(model, loss_fn, opt, (x, t), spec.epochs, spec.batch_size, generator=gen,
                  **fit_kwargs)
    return model, time.process_time() - start, history


def train_torch(
    spec: MLPSpec, x: torch.Tensor, t: torch.Tensor, seed: int
) -> tuple[torch.nn.Module, float]:
    """(model, CPU seconds) for the same training in PyTorch: nn, autograd, optim.SGD."""
    gen = minidl.train.seed_everything(seed)
    model = torch_model(spec)
    opt = torch.optim.SGD(model.parameters(), lr=spec.lr)
    loss_fn = torch.nn.MSELoss()
    start = time.process_time()
    for _ in range(spec.epochs):
        perm = torch.randperm(len(x), generator=gen)
        xs, ts = x[perm], t[perm]
        for i in range(0, len(x), spec.batch_size):
            loss = loss_fn(model(xs[i : i + spec.batch_size]), ts[i : i + spec.batch_size])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model, time.process_time() - start


def torch_predict(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


__all__ = [
    "accuracy", "disk_split", "header", "output_dir", "parser", "predict", "pyplot",
    "train_minidl", "train_torch", "torch_predict",
]


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
