"""The command line: a bad flag value exits 2 with one line on stderr; a scripted run works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from oracle import torch_seed_network
from PySide6.QtGui import QImage
from safetensors.torch import load_file

from playground.app import build_parser, parse_args

ROOT = Path(__file__).resolve().parent.parent

BAD_VALUES = [
    ("--dataset", "swissroll"),
    ("--points-csv", "/no/such/points.csv"),
    ("--classes", "11"),
    ("--classes", "1"),
    ("--regularization", "l3"),
    ("--init", "ones"),
    ("--points", "many"),
    ("--points", "3"),
    ("--test-fraction", "1.5"),
    ("--noise", "-0.1"),
    ("--features", "x3"),
    ("--features", ","),
    ("--layers", "linear:25,conv"),
    ("--layers", "linear:0"),
    ("--loss", "hinge"),
    ("--optimizer", "rmsprop"),
    ("--lr", "0"),
    ("--lr", "fast"),
    ("--lr", "nan"),
    ("--batch-size", "0"),
    ("--batch-size", "2.5"),
    ("--weight-decay", "-1"),
    ("--epochs", "0"),
    ("--seed", "-1"),
    ("--export", "model.txt"),
    ("--export", "/no/such/folder/model.safetensors"),
    ("--screenshot", "window.jpg"),
    ("--open", "/no/such/experiment.json"),
    ("--theme", "purple"),
]


def test_every_flag_is_covered_by_a_bad_value_test():
    flags = {a.option_strings[0] for a in build_parser()._actions if a.option_strings}
    takes_value = {
        f for f in flags if f not in {"-h", "--no-standardize", "--train", "--quit-when-done"}
    }
    assert takes_value == {flag for flag, _ in BAD_VALUES}


@pytest.mark.parametrize(("flag", "value"), BAD_VALUES)
def test_bad_value_exits_2_with_one_line(flag, value, capsys):
    with pytest.raises(SystemExit) as info:
        parse_args([flag, value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("minidl-playground: error:")
    assert flag in err or "layer" in err or value in err


def test_bad_experiment_file_exits_2(tmp_path, capsys):
    path = tmp_path / "exp.json"
    path.write_text('{"format": "minidl-playground-experiment", "version": 99}')
    with pytest.raises(SystemExit) as info:
        parse_args(["--open", str(path)])
    assert info.value.code == 2 and "newer playground" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--loss", "bce", "--layers", "linear:4,relu,linear:1"], "Sigmoid"),
        (["--train", "--quit-when-done"], "needs --epochs"),
    ],
)
def test_flags_that_do_not_fit_together_exit_2(argv, fragment, capsys):
    with pytest.raises(SystemExit) as info:
        parse_args(argv)
    assert info.value.code == 2 and fragment in capsys.readouterr().err


def test_flags_override_the_opened_file(tmp_path):
    from playground.experiment import Experiment

    path = tmp_path / "exp.json"
    path.write_text(Experiment().to_json())
    _, exp = parse_args(
        [
            "--open",
            str(path),
            "--dataset",
            "spiral",
            "--lr",
            "0.03",
            "--features",
            "x1,x2,sin(x1)",
            "--seed",
            "4",
        ]
    )
    assert exp.data.dataset == "spiral" and exp.train.learning_rate == 0.03
    assert exp.data.features == ("x1", "x2", "sin(x1)")
    assert exp.data.seed == 4 and exp.train.seed == 4


def test_scripted_run_trains_exports_screenshots_and_exits_0(tmp_path):
    model, shot = tmp_path / "model.safetensors", tmp_path / "window.png"
    cmd = [
        sys.executable,
        str(ROOT / "main.py"),
        "--dataset",
        "disk",
        "--layers",
        "linear:25,relu,linear:25,relu,linear:25,relu,linear:1,sigmoid",
        "--lr",
        "0.1",
        "--batch-size",
        "50",
        "--epochs",
        "100",
        "--seed",
        "0",
        "--train",
        "--export",
        str(model),
        "--screenshot",
        str(shot),
        "--quit-when-done",
    ]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    reference = torch_seed_network()
    reference.load_state_dict(load_file(model))
    # the exported model takes raw points of the unit square and has learnt the disk
    from minidl.data import disk

    x, y = disk(2000, seed=123)
    with torch.no_grad():
        accuracy = ((reference(x)[:, 0] > 0.5).long() == y).float().mean().item()
    assert accuracy >= 0.93
    image = QImage(str(shot))
    assert image.width() >= 1000 and image.height() >= 600
