"""Make the screenshots in docs/screenshots/ from the real window.

Run from the repository root: ``xvfb-run -s "-screen 0 1600x1000x24" python
docs/screenshots/make_screenshots.py``. Each picture scripts the window the way a user would:
import a CSV, train, press Play at learning rate 10, open the confusion matrix, switch to the
dark theme; then the inside views (issue 12): the network dock while training, a hovered unit on
the boundary plot, the maths dock, the Gradients tab, and the README's main screenshot
(docs/screenshot.png); then issue 13's problems: a regression on the plane (its colour bar, R²
and RMSE) and three spiral arms with their 3×3 confusion matrix. ``--inside`` makes only the
inside ones, ``--problems`` only the last two.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
OUT = Path(__file__).resolve().parent

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from playground.experiment import (  # noqa: E402
    DataSpec,
    Experiment,
    NetworkSpec,
    TrainSpec,
    load_experiment,
)
from playground.files import save_picture  # noqa: E402
from playground.widgets.main_window import MainWindow  # noqa: E402
from playground.widgets.theme import apply_theme  # noqa: E402


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def train_until_stopped(window: MainWindow, timeout_ms: int = 60_000) -> None:
    loop = QEventLoop()
    window.controller.stopped.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    window.toggle_play()
    loop.exec()
    window.controller.stopped.disconnect(loop.quit)
    wait(300)


def window_for(experiment: Experiment) -> MainWindow:
    window = MainWindow(experiment)
    window.ask_before_closing = False
    window.show()
    wait(300)
    return window


def shot(window: MainWindow, name: str) -> None:
    wait(200)
    save_picture(window.grab(), OUT / name)
    print("wrote", OUT / name)


def moons_csv(path: Path, n: int = 300, seed: int = 1) -> None:
    """Two interleaved half-moons: data none of the built-in generators makes."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    upper = np.stack([np.cos(t[: n // 2]), np.sin(t[: n // 2])], 1)
    lower = np.stack([1 - np.cos(t[n // 2 :]), 0.5 - np.sin(t[n // 2 :])], 1)
    x = np.concatenate([upper, lower]) + rng.normal(0, 0.12, (n, 2))
    y = np.r_[np.zeros(n // 2, int), np.ones(n - n // 2, int)]
    rows = "\n".join(f"{a:.4f},{b:.4f},{c}" for (a, b), c in zip(x, y, strict=True))
    path.write_text("x1,x2,label\n" + rows + "\n")


def inside_shots() -> None:
    """The network view, a hovered unit, the maths dock and the Gradients tab (light theme)."""
    window = window_for(Experiment(train=TrainSpec(max_epochs=60)))
    window.resize(1600, 1000)
    train_until_stopped(window)
    save_picture(window.grab(), ROOT / "docs" / "screenshot.png")
    print("wrote", ROOT / "docs" / "screenshot.png")
    # a point's path: its activations on every unit and each link's gradient for it
    window.inside._point = (1.5, -2.0)
    window.inside._show_point()
    shot(window, "network_window.png")
    window.inside._on_point_hovered(None)
    window.inside.network.unitHovered.emit(2, 3)
    shot(window, "hovered_unit.png")
    window.inside.network.unitHovered.emit(-1, -1)
    window.inside.network.columnSelected.emit(2)
    wait(300)
    shot(window, "maths_window.png")
    window.inside.maths_dock.hide()
    window.plots.tabs.setCurrentWidget(window.plots.gradients)
    shot(window, "gradients_window.png")
    window.close()


def problem_shots() -> None:
    """A regression and a 3-class run, from the examples of File > Examples (light theme)."""
    examples = ROOT / "playground" / "resources" / "examples"
    for example, epochs, name, confusion in (
        ("4-regression-on-the-plane.json", 60, "regression.png", False),
        ("6-three-spiral-arms.json", 60, "three-classes.png", True),
    ):
        experiment, _ = load_experiment((examples / example).read_text())
        window = window_for(experiment.replace(train=replace(experiment.train, max_epochs=epochs)))
        window.resize(1600, 1000)
        train_until_stopped(window)
        if confusion:
            window.confusion_action.trigger()
            wait(300)
        shot(window, name)
        window.close()


def main() -> None:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("minidl playground (screenshots)")
    apply_theme(app, "light")
    if "--inside" in sys.argv:
        inside_shots()
        return
    if "--problems" in sys.argv:
        problem_shots()
        return

    # 1. an imported dataset (two moons from a CSV), trained
    folder = Path(tempfile.mkdtemp())
    moons_csv(folder / "moons.csv")
    exp = Experiment(
        network=NetworkSpec.parse("linear:16,tanh,linear:16,tanh,linear:1,sigmoid"),
        train=TrainSpec(loss="bce", optimizer="adam", learning_rate=0.03, batch_size=20),
    )
    window = window_for(exp)
    window.import_points(folder / "moons.csv")
    window.controls.stop_epochs.setChecked(True)
    window.controls.max_epochs.setValue(150)
    train_until_stopped(window)
    shot(window, "imported-dataset.png")
    window.close()

    # 2. divergence: 20 good epochs at learning rate 0.1, then the learning rate goes to 10
    exp = Experiment(
        network=NetworkSpec.parse("linear:25,relu,linear:25,relu,linear:25,relu,linear:1"),
        data=DataSpec(points=400),
        train=TrainSpec(max_epochs=20),
    )
    window = window_for(exp)
    train_until_stopped(window)
    window.controls.stop_epochs.setChecked(False)
    window.controls.learning_rate.setValue(10.0)
    train_until_stopped(window)
    shot(window, "divergence-notice.png")
    window.close()

    # 3. the confusion matrix of the seed network on a noisy disk
    window = window_for(Experiment(data=DataSpec(noise=0.1), train=TrainSpec(max_epochs=60)))
    train_until_stopped(window)
    window.confusion_action.trigger()
    wait(300)
    shot(window, "confusion-matrix.png")
    window.close()

    # 2b. the inside views, light
    inside_shots()

    # 2c. regression and three classes
    problem_shots()

    # 4. the same window in a dark theme
    apply_theme(app, "dark")
    window = window_for(Experiment(train=TrainSpec(max_epochs=40)))
    train_until_stopped(window)
    window.confusion_action.trigger()
    shot(window, "dark-theme.png")
    window.close()


if __name__ == "__main__":
    main()
