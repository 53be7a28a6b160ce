"""The seed-003 denoiser example, small: Noise2Noise training raises the held-out PSNR."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

import minidl
from examples import denoiser

SMALL = ["--images", "512", "--epochs", "5", "--size", "16", "--width", "8", "--test-images",
         "64", "--batch-size", "16", "--lr", "5e-3", "--quiet"]


def test_training_raises_held_out_psnr(tmp_path):
    path = tmp_path / "denoiser.safetensors"
    results = denoiser.main([*SMALL, "--save", str(path)])
    assert results["after"] > results["before"] + 3
    assert results["after"] > results["noisy"], "the denoiser should beat the noisy input"

    # the saved model is the same network, in minidl and in torch
    model = minidl.load(path)
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 16, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.Upsample(scale_factor=2), torch.nn.Conv2d(16, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Upsample(scale_factor=2), torch.nn.Conv2d(8, 3, 3, padding=1), torch.nn.Sigmoid(),
    )
    theirs.load_state_dict(load_file(path))
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(x).data, theirs(x), atol=1e-6, rtol=1e-5)


def test_synthetic_images_are_reproducible_pictures():
    a = denoiser.synthetic_images(4, 12, torch.Generator().manual_seed(1))
    b = denoiser.synthetic_images(4, 12, torch.Generator().manual_seed(1))
    assert a.shape == (4, 3, 12, 12)
    assert torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 1
    assert a.std() > 0.1  # not flat


def test_psnr_of_known_error():
    clean = torch.zeros(2, 3, 4, 4)
    assert denoiser.psnr(clean + 0.1, clean) == pytest.approx(20.0, abs=1e-4)
    assert denoiser.psnr(clean + 2.0, clean) == pytest.approx(0.0, abs=1e-4)  # clipped to 1
