"""python -m minidl: the command-line training run."""

from __future__ import annotations

import pytest
import torch

from minidl.__main__ import main
from minidl.io import load


def test_cli_trains_prints_accuracy_and_saves(tmp_path, capsys):
    path = tmp_path / "disk.safetensors"
    assert main(["--points", "200", "--epochs", "3", "--save", str(path)]) == 0
    out = capsys.readouterr().out
    assert "epoch    1  train loss" in out
    assert "final: train accuracy" in out and "test accuracy" in out
    model = load(path)
    assert model(torch.rand(4, 2)).shape == (4, 1)


@pytest.mark.parametrize(
    "argv",
    [["--lr", "-1"], ["--epochs", "0"], ["--batch-size", "x"], ["--points", "-5"], ["--bogus"]],
)
def test_cli_bad_values_exit_2_with_a_message(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "error:" in capsys.readouterr().err
