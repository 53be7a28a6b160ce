"""Seed 003's image denoiser, trained Noise2Noise-style on synthetic images made in code.

The network is the seed's: Conv(stride 2) → ReLU → Conv(stride 2) → ReLU → Upsampling(×2) → ReLU
→ Upsampling(×2) → Sigmoid, where each "Upsampling" is nearest-neighbour upsampling followed by
a 3×3 convolution that sets the channel count (as in seed 003; plain upsampling has no weights).

Noise2Noise (Lehtinen et al., 2018): the network never sees a clean image while training. It
learns to map one noisy shot of a picture to a second, independently noisy shot; since the
noise has mean zero, the best prediction of the second shot is the clean picture. Clean images
are used only to measure PSNR on held-out pictures, before and after training.

    python -m examples.denoiser                 # the full run (about 2 minutes on 2 cores)
    python -m examples.denoiser --epochs 2 --images 200 --save denoiser.safetensors
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import torch

import minidl
from minidl import functional as F
from minidl import nn
from minidl.train import Callback, TrainState, fit


def synthetic_images(n: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` RGB pictures (n, 3, size, size) in [0, 1]: a colour gradient with rectangles and discs.

    Smooth regions and sharp edges, like photographs of simple objects; made in code, no download.
    """

    def uniform(*shape: int, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
        return torch.rand(*shape, generator=generator) * (high - low) + low

    coords = (torch.arange(size) + 0.5) / size
    y, x = coords[None, :, None], coords[None, None, :]  # (1, size, 1), (1, 1, size)
    angle = uniform(n, 1, 1, high=2 * math.pi)
    ramp = (torch.cos(angle) * (x - 0.5) + torch.sin(angle) * (y - 0.5)) * 0.7 + 0.5
    start, end = uniform(n, 3, 1, 1), uniform(n, 3, 1, 1)
    images = start + (end - start) * ramp[:, None]  # (n, 3, size, size)
    for shape in range(4):  # a few shapes per picture, painted over each other
        colour = uniform(n, 3, 1, 1)
        cy, cx = uniform(n, 1, 1), uniform(n, 1, 1)
        if shape % 2 == 0:  # axis-aligned rectangle
            hy, hx = uniform(n, 1, 1, low=0.08, high=0.3), uniform(n, 1, 1, low=0.08, high=0.3)
            inside = ((y - cy).abs() < hy) & ((x - cx).abs() < hx)
        else:  # disc
            radius = uniform(n, 1, 1, low=0.08, high=0.25)
            inside = (y - cy) ** 2 + (x - cx) ** 2 < radius**2
        images = torch.where(inside[:, None], colour, images)
    return images.clamp(0, 1)


def denoiser(channels: int = 3, width: int = 32, generator: torch.Generator | None = None):
    """Seed 003's network; ``width`` channels after the first stride-2 convolution."""
    return nn.Sequential(
        nn.Conv2d(channels, width, 3, stride=2, padding=1, generator=generator),
        nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, stride=2, padding=1, generator=generator),
        nn.ReLU(),
        nn.Upsample(2),
        nn.Conv2d(2 * width, width, 3, padding=1, generator=generator),
        nn.ReLU(),
        nn.Upsample(2),
        nn.Conv2d(width, channels, 3, padding=1, generator=generator),
        nn.Sigmoid(),
    )


def psnr(output: torch.Tensor, clean: torch.Tensor) -> float:
    """Mean peak signal-to-noise ratio in dB of images in [0, 1] (clipped) against clean ones."""
    mse = ((output.clamp(0, 1) - clean) ** 2).flatten(1).mean(1)
    return float((-10 * torch.log10(mse)).mean())


def denoise(model: nn.Module, noisy: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """The model's output for every image, computed in batches without recording a graph."""
    model.eval()
    with minidl.no_grad():
        return torch.cat([model(noisy[i : i + batch_size]).data
                          for i in range(0, len(noisy), batch_size)])


class HeldOutPSNR(Callback):
    """Prints the held-out PSNR after every epoch."""

    def __init__(self, noisy: torch.Tensor, clean: torch.Tensor, quiet: bool) -> None:
        self.noisy, self.clean, self.quiet = noisy, clean, quiet
        self.start = time.perf_counter()

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        if self.quiet:
            return
        value = psnr(denoise(state.model, self.noisy), self.clean)
        state.model.train()
        print(
            f"epoch {logs['epoch']:3d}  train loss {logs['train_loss']:.5f}  held-out PSNR "
            f"{value:6.2f} dB  ({time.perf_counter() - self.start:5.1f} s)"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="passes over the training set")
    parser.add_argument("--images", type=int, default=2000, help="noisy training pairs")
    parser.add_argument("--test-images", type=int, default=300, help="held-out clean images")
    parser.add_argument("--size", type=int, default=32, help="image side in pixels (mult. of 4)")
    parser.add_argument("--width", type=int, default=16, help="channels of the first layer")
    parser.add_argument("--noise", type=float, default=0.2, help="std of the Gaussian noise")
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam's learning rate")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", metavar="PATH", help="write the trained model (.safetensors)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    args = parser.parse_args(argv)
    if args.size % 4:
        parser.error(f"--size must be a multiple of 4 (two stride-2 convolutions), got {args.size}")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train the denoiser; print and return the held-out PSNRs (dB) and the time taken (s)."""
    args = parse_args(argv)
    generator = minidl.train.seed_everything(args.seed)
    start = time.perf_counter()

    def noisy(images: torch.Tensor) -> torch.Tensor:
        return images + args.noise * torch.randn(images.shape, generator=generator)

    # training data: two independently noisy shots of each picture, never the picture itself
    pictures = synthetic_images(args.images, args.size, generator)
    inputs, targets = noisy(pictures), noisy(pictures)
    del pictures
    clean = synthetic_images(args.test_images, args.size, generator)
    test_inputs = noisy(clean)

    model = denoiser(width=args.width, generator=generator)
    results: dict[str, Any] = {
        "noisy": psnr(test_inputs, clean),
        "mean_filter": psnr(F.avg_pool2d(test_inputs, 3, 1, 1).data, clean),
        "before": psnr(denoise(model, test_inputs), clean),
    }
    optimizer = minidl.optim.Adam(model.parameters(), lr=args.lr)
    fit(
        model, F.mse_loss, optimizer, (inputs, targets), epochs=args.epochs,
        batch_size=args.batch_size, generator=generator, metrics=False,
        callbacks=[HeldOutPSNR(test_inputs, clean, args.quiet)],
    )
    results["after"] = psnr(denoise(model, test_inputs), clean)
    results["seconds"] = time.perf_counter() - start
    if args.save:
        minidl.save(model, args.save, metadata={"trained_on": "examples/denoiser.py"})
    print(
        f"held-out PSNR over {args.test_images} images: noisy input {results['noisy']:.2f} dB, "
        f"3×3 mean filter {results['mean_filter']:.2f} dB; denoiser before training "
        f"{results['before']:.2f} dB, after {results['after']:.2f} dB "
        f"(+{results['after'] - results['before']:.2f} dB) in {results['seconds']:.1f} s"
    )
    return results


if __name__ == "__main__":
    main()
