"""The playground's entry point: the command line, the QApplication and ``main()``.

``python main.py`` (or ``minidl-playground``) opens the window ready to train the seed network on
the disk. Flags set up the experiment and can script a whole run for teachers, demos and tests:
train for N epochs in the real window, export the model, save a screenshot, and quit. Arguments
are checked before Qt starts; a bad one gets a one-line message on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from .document import ExperimentFileError, read_experiment
from .experiment import (
    DATASETS,
    DEFAULT_CLASSES,
    FEATURES,
    INITS,
    LOSSES,
    MAX_ADDED_POINTS,
    MAX_BATCH_SIZE,
    MAX_CLASSES,
    MAX_POINTS,
    MULTICLASS_DATASETS,
    OPTIMIZERS,
    REGRESSION_DATASETS,
    REGULARIZATIONS,
    Experiment,
    ExperimentError,
    NetworkSpec,
    SavedWeights,
)
from .model_files import MODEL_FORMATS
from .pointfile import PointsFileError, read_points_file

__all__ = ["build_parser", "experiment_from_args", "main"]

PROG = "minidl-playground"


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is one line on stderr (no usage block) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _int_in(low: int, high: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low} to {high}, got {value}")
        return value

    return parse


def _float_in(low: float, high: float, *, low_open: bool = False) -> Any:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        too_low = value <= low if low_open else value < low
        if not math.isfinite(value) or too_low or value > high:
            bound = "above" if low_open else "from"
            raise argparse.ArgumentTypeError(f"must be {bound} {low:g} to {high:g}, got {text}")
        return value

    return parse


def _layers(text: str) -> NetworkSpec:
    try:
        return NetworkSpec.parse(text)
    except ExperimentError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _features(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in FEATURES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown feature(s) {', '.join(unknown)}; choose from {','.join(FEATURES)}"
            if unknown
            else "choose at least one feature"
        )
    return names


def _output_path(*suffixes: str) -> Any:
    def parse(text: str) -> Path:
        path = Path(text)
        if not text or path.is_dir():
            raise argparse.ArgumentTypeError(f"{text!r} is a folder, not a file name")
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise argparse.ArgumentTypeError(f"the folder {str(folder)!r} does not exist")
        if path.suffix.lower() not in suffixes:
            raise argparse.ArgumentTypeError(f"{text!r} should end in {' or '.join(suffixes)}")
        return path

    return parse


class OpenedFile:
    """An experiment file named with --open: where it is, what it holds, its weights if any."""

    def __init__(self, path: Path, experiment: Experiment, weights: SavedWeights | None) -> None:
        self.path, self.experiment, self.weights = path, experiment, weights


def _experiment_file(text: str) -> OpenedFile:
    try:
        experiment, weights = read_experiment(text)
    except ExperimentFileError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return OpenedFile(Path(text), experiment, weights)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python main.py`` / ``minidl-playground``."""
    p = _OneLineParser(
        prog=PROG,
        description="A desktop neural-network playground on minidl. Without flags it opens "
        "the window ready to train the seed network on the disk dataset.",
    )
    setup = p.add_argument_group("experiment (each flag overrides --open's file)")
    setup.add_argument(
        "--open",
        type=_experiment_file,
        metavar="EXPERIMENT.json",
        help="start from an experiment file",
    )
    setup.add_argument(
        "--dataset",
        choices=DATASETS,
        help=f"dataset (default: disk; {' and '.join(REGRESSION_DATASETS)} are regressions)",
    )
    setup.add_argument(
        "--classes",
        type=_int_in(2, MAX_CLASSES),
        help=f"number of classes of {', '.join(MULTICLASS_DATASETS)} (default: 2); more than "
        "two train with --loss cross_entropy",
    )
    setup.add_argument(
        "--points-csv",
        type=Path,
        metavar="POINTS.csv",
        help="your points from a CSV file of x1,x2,label[,split] rows (up to "
        f"{MAX_ADDED_POINTS:,}) as the custom dataset; rows without a split are split with "
        "--test-fraction and --seed",
    )
    setup.add_argument(
        "--points",
        type=_int_in(10, MAX_POINTS),
        help="training and test points together (default: 2000)",
    )
    setup.add_argument(
        "--test-fraction",
        type=_float_in(0.05, 0.95),
        help="share of the points held out for testing (default: 0.5)",
    )
    setup.add_argument("--noise", type=_float_in(0.0, 0.5), help="noise, 0 to 0.5 (default: 0)")
    setup.add_argument(
        "--features",
        type=_features,
        metavar="LIST",
        help=f"input features, comma-separated, from {','.join(FEATURES)}",
    )
    setup.add_argument("--no-standardize", action="store_true", help="feed the features unscaled")
    setup.add_argument(
        "--layers",
        type=_layers,
        metavar="SPEC",
        help='layer stack, e.g. "linear:25,relu,linear:1,sigmoid" '
        "(leakyrelu:SLOPE, dropout:P, tanh too)",
    )
    setup.add_argument("--loss", choices=tuple(LOSSES), help="loss (default: mse)")
    setup.add_argument("--optimizer", choices=tuple(OPTIMIZERS), help="optimizer (default: sgd)")
    setup.add_argument(
        "--lr", type=_float_in(0.0, 100.0, low_open=True), help="learning rate (default: 0.1)"
    )
    setup.add_argument(
        "--batch-size", type=_int_in(1, MAX_BATCH_SIZE), help="mini-batch size (default: 50)"
    )
    setup.add_argument(
        "--regularization",
        choices=tuple(REGULARIZATIONS),
        help="penalty on the weights (default: l2, at the --weight-decay rate)",
    )
    setup.add_argument(
        "--weight-decay",
        type=_float_in(0.0, 10.0),
        help="regularisation rate (default: 0)",
    )
    setup.add_argument(
        "--init",
        choices=tuple(INITS),
        help="initial weights: xavier (default), pytorch (torch.nn.Linear's) or zeros",
    )
    setup.add_argument(
        "--epochs", type=_int_in(1, 10_000_000), help="stop training after this many epochs"
    )
    setup.add_argument(
        "--seed", type=_int_in(0, 2**62), help="seed of the data and the weights (default: 0)"
    )
    p.add_argument(
        "--theme",
        choices=("system", "light", "dark"),
        default="system",
        help="colours: the system's (default), or Qt's Fusion style in light or dark",
    )
    run = p.add_argument_group("scripted run")
    run.add_argument("--train", action="store_true", help="start training at once")
    run.add_argument(
        "--export",
        type=_output_path(*MODEL_FORMATS),
        action="append",
        metavar="MODEL.safetensors|.onnx|.py",
        help="when training ends (or at once), write the model: minidl's .safetensors, "
        "ONNX or PyTorch code, by the file's suffix (may be given more than once)",
    )
    run.add_argument(
        "--screenshot",
        type=_output_path(".png"),
        metavar="WINDOW.png",
        help="when training ends (or at once), save a picture of the window",
    )
    run.add_argument(
        "--quit-when-done",
        action="store_true",
        help="close once training, export and screenshot are done",
    )
    return p


def experiment_from_args(args: argparse.Namespace) -> Experiment:
    """The experiment the flags describe: --open's file (or the default) with flags on top;
    --points-csv's file read here (PointsFileError if it cannot be)."""
    exp: Experiment = args.open.experiment if args.open is not None else Experiment()
    data, train, network = exp.data, exp.train, exp.network
    data_changes = {
        "dataset": args.dataset,
        "points": args.points,
        "test_fraction": args.test_fraction,
        "noise": args.noise,
        "features": args.features,
        "seed": args.seed,
        "classes": args.classes,
    }
    if args.dataset is not None and args.dataset != data.dataset and args.classes is None:
        data_changes["classes"] = DEFAULT_CLASSES.get(args.dataset, 2)
    data = replace(data, **{k: v for k, v in data_changes.items() if v is not None})
    if args.no_standardize:
        data = replace(data, standardize=False)
    if getattr(args, "points_csv", None) is not None:  # raises PointsFileError
        points = read_points_file(args.points_csv, test_fraction=data.test_fraction, seed=data.seed)
        data = data.with_imported(points)
    train_changes = {
        "loss": args.loss,
        "optimizer": args.optimizer,
        "learning_rate": args.lr,
        "batch_size": args.batch_size,
        "weight_decay": args.weight_decay,
        "regularization": args.regularization,
        "init": args.init,
        "max_epochs": args.epochs,
        "seed": args.seed,
    }
    train = replace(train, **{k: v for k, v in train_changes.items() if v is not None})
    if args.layers is not None:
        return exp.replace(network=args.layers, data=data, train=train)  # a class file stays one
    # without --layers, the network's output follows the task: --dataset plane alone gives a
    # Linear output, --loss cross_entropy one without its Sigmoid
    return exp.replace(network=network, data=data, train=train).with_fitting_output()


def parse_args(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, Experiment]:
    """Parse and check the command line; exits with status 2 and one line on stderr if bad."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        experiment = experiment_from_args(args)
    except PointsFileError as e:  # one line: the file, then its problem's lines joined
        parser.error(f"--points-csv: {e.path}: " + "; ".join(e.problem.splitlines()))
    problems = experiment.problems()
    if problems:
        parser.error(" ".join(problems))
    if args.quit_when_done and args.train and experiment.train.max_epochs is None:
        parser.error("--train with --quit-when-done needs --epochs (when is it done?)")
    return args, experiment


def main(argv: Sequence[str] | None = None) -> int:
    """Open the playground window (and run the scripted steps the flags ask for)."""
    args, experiment = parse_args(argv)
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("minidl playground")
    app.setOrganizationName("minidl")
    from .widgets.main_window import MainWindow
    from .widgets.theme import apply_theme

    apply_theme(app, args.theme)
    # a scripted screenshot gets the default size, not whatever size the window had last time
    settings = None if args.screenshot else QSettings()
    opened = args.open
    # the file's weights fit only its own network and features: flags that change them drop it
    weights = opened.weights if opened is not None and experiment == opened.experiment else None
    window = MainWindow(
        experiment,
        build_now=False,
        settings=settings,
        weights=weights,
        path=opened.path if opened is not None and experiment == opened.experiment else None,
    )
    window.show()
    run = ScriptedRun(window, args)
    QTimer.singleShot(0, run.start)
    code = app.exec()
    return run.exit_code if run.exit_code is not None else code


class ScriptedRun:
    """Carries out --train, --export, --screenshot and --quit-when-done on a shown window."""

    def __init__(self, window: Any, args: argparse.Namespace) -> None:
        self.window, self.args = window, args
        self.exit_code: int | None = None

    def start(self) -> None:
        """Build the first session, then train or finish at once."""
        self.window.start()
        if self.args.train and self.window.session is not None:
            self.window.controller.stopped.connect(self._on_stopped)
            with self.window.class_mode.suspended():  # --train trains even a locked Play
                self.window.toggle_play()
        else:
            self.finish()

    def _on_stopped(self, reason: str) -> None:
        self.window.controller.stopped.disconnect(self._on_stopped)
        self.finish()

    def finish(self) -> None:
        """Export, screenshot and quit, as asked; failures go to stderr and set exit code 1."""
        from PySide6.QtWidgets import QApplication

        ok = True
        for path in self.args.export or ():
            ok = self._export(path) and ok
        if self.args.screenshot is not None:
            ok = self._screenshot(self.args.screenshot) and ok
        if not ok:
            self.exit_code = 1
        if self.args.quit_when_done:
            self.window.ask_before_closing = False
            self.window.close()
            QApplication.instance().exit(0 if ok else 1)

    def _export(self, path: Path) -> bool:
        from minidl import ExportError, ModelFileError

        if self.window.session is None:
            print(f"{PROG}: error: cannot export, the network cannot be built", file=sys.stderr)
            return False
        try:
            with self.window.controller.locked_session() as session:
                session.save_model(path)
        except (ModelFileError, ExportError, OSError) as e:
            print(f"{PROG}: error: {e}", file=sys.stderr)
            return False
        return True

    def _screenshot(self, path: Path) -> bool:
        from PySide6.QtWidgets import QApplication

        from .files import save_picture

        QApplication.processEvents()
        try:
            save_picture(self.window.grab(), path)
        except OSError as e:
            print(f"{PROG}: error: screenshot: {e}", file=sys.stderr)
            return False
        return True
