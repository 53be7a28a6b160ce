"""Command-line training run on the disk dataset: ``python -m minidl [options]``.

Trains the seed network (2-25-25-25-1, ReLU, Sigmoid output, MSE, SGD) and prints per-epoch
losses and the final train/test accuracy; optionally saves the model.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from . import data, nn, optim
from .io import ModelFileError, save
from .train import Callback, TrainState, fit, seed_everything


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m minidl``."""
    p = argparse.ArgumentParser(
        prog="python -m minidl",
        description="Train minidl's seed network on the disk dataset and report accuracy.",
    )
    p.add_argument("--points", type=_positive_int, default=1000, help="training (and test) points")
    p.add_argument(
        "--hidden",
        type=_positive_int,
        nargs="+",
        default=[25, 25, 25],
        help="hidden layer widths (default: 25 25 25)",
    )
    p.add_argument("--lr", type=_non_negative_float, default=0.1, help="learning rate")
    p.add_argument("--momentum", type=_non_negative_float, default=0.0, help="SGD momentum")
    p.add_argument("--batch-size", type=_positive_int, default=50, help="mini-batch size")
    p.add_argument("--epochs", type=_positive_int, default=100, help="number of epochs")
    p.add_argument("--seed", type=int, default=0, help="random seed (data, weights, batches)")
    p.add_argument("--save", metavar="PATH", help="write the trained model to a .safetensors file")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines, only the result")
    return p


class _EpochPrinter(Callback):
    def __init__(self, every: int, bar: bool):
        self.every, self.bar = every, bar

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        if state.epoch % self.every == 0 or state.epoch == 1:
            line = (
                f"epoch {state.epoch:4d}  train loss {logs['train_loss']:.4f}  "
                f"test loss {logs.get('test_loss', float('nan')):.4f}  "
                f"test acc {logs.get('test_accuracy', float('nan')):.3f}"
            )
            if self.bar:
                from tqdm.auto import tqdm

                tqdm.write(line)
            else:
                print(line)


def main(argv: list[str] | None = None) -> int:
    """Run the training and print the result; returns the exit code."""
    args = build_parser().parse_args(argv)
    generator = seed_everything(args.seed)
    x_train, y_train = data.disk(args.points, seed=args.seed)
    x_test, y_test = data.disk(args.points, seed=args.seed + 10_000)
    widths = [2, *args.hidden]
    layers: list[nn.Module] = []
    for a, b in zip(widths, widths[1:], strict=False):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(widths[-1], 1), nn.Sigmoid())
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    long_run = args.epochs * args.points >= 50_000 and sys.stderr.isatty()
    callbacks = [] if args.quiet else [_EpochPrinter(max(1, args.epochs // 10), long_run)]
    print(model)
    start = time.perf_counter()
    history = fit(
        model,
        nn.MSELoss(),
        optimizer,
        (x_train, y_train.float()[:, None]),
        epochs=args.epochs,
        batch_size=args.batch_size,
        test=(x_test, y_test.float()[:, None]),
        callbacks=callbacks,
        generator=generator,
        progress=long_run and not args.quiet,
    )
    seconds = time.perf_counter() - start
    last = history.last()
    print(
        f"final: train accuracy {last['train_accuracy']:.4f}, "
        f"test accuracy {last['test_accuracy']:.4f}  ({seconds:.2f} s, "
        f"{history.epoch[-1]} epochs, torch {torch.__version__})"
    )
    if history.stop_reason:
        print(f"stopped early: {history.stop_reason}")
    if args.save:
        try:
            save(model, args.save)
        except ModelFileError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(f"saved the model to {args.save}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
