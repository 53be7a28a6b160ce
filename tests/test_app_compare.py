"""The Compare and Sweep windows (pytest-qt, offscreen, dialogs monkeypatched).

Training runs in each window's own worker process, as in the app; the oracle for a variant is
the main window's Session trained alone with its settings.
"""

from __future__ import annotations

import csv
import os
import stat
import statistics

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QImage
from PySide6.QtWidgets import QFileDialog, QMessageBox, QTableWidgetItem, QWidget
from windows import make_window

from playground.compare import Variant, tile_image
from playground.experiment import DataSpec, Experiment, NetworkSpec, TrainSpec
from playground.session import Session
from playground.widgets.compare_window import _LUT as BOUNDARY_LUT

TIMEOUT = 60_000


def small(**train) -> Experiment:
    network = NetworkSpec.parse("linear:8,relu,linear:8,tanh,linear:1,sigmoid")
    return Experiment(network, DataSpec(points=400), TrainSpec(batch_size=20, **train))


def open_window(qtbot, main, kind: str) -> QWidget:
    main.findChild(QAction, kind).trigger()
    window = main.findChild(QWidget, f"{kind}_window")
    assert window is not None and window.isVisible()
    qtbot.waitExposed(window)
    return window


def train_to_the_limit(qtbot, compare) -> None:
    with qtbot.waitSignal(compare.controller.stopped, timeout=TIMEOUT):
        compare.play_button.click()
    qtbot.waitUntil(lambda: compare.controller.is_idle, timeout=TIMEOUT)


def alone(experiment: Experiment, variant: Variant, epochs: int) -> Session:
    session = Session(experiment.replace(train=variant.train_spec(experiment.train)))
    session.step(epochs)
    return session


@pytest.fixture
def main(qtbot):
    return make_window(qtbot, small(max_epochs=4))


def test_compare_trains_each_variant_as_it_trains_alone(qtbot, main) -> None:
    compare = open_window(qtbot, main, "compare")
    # its worker starts once the window is up, so that Play need not wait for it
    qtbot.waitUntil(lambda: compare.controller.worker_pid is not None, timeout=TIMEOUT)
    ready = compare.controller.worker_pid
    compare.values.setText("0.03, 0.1, 0.3")
    compare.make_button.click()
    assert compare.table.rowCount() == 3
    train_to_the_limit(qtbot, compare)
    assert compare.controller.worker_pid == ready != os.getpid()  # trained in that worker
    assert "epoch limit" in compare.message.text()
    session = compare.controller.session
    assert session.epoch == 4 and compare.last_snapshot.epoch == 4
    tiles = tile_image(session.runs.grids())
    for k, lr in enumerate((0.03, 0.1, 0.3)):
        single = alone(main.experiment, Variant.of(main.experiment.train, learning_rate=lr), 4)
        for key, value in single.model.state_dict().items():
            torch.testing.assert_close(session.runs.state_of(k)[key], value, rtol=0, atol=1e-5)
        # what the window drew: every epoch of each curve, the tile's caption
        drawn = compare.rows.column("test_loss", k)
        assert len(drawn) == 4
        assert drawn[-1] == pytest.approx(single.history.test_loss[-1], abs=1e-5)
        assert f"acc {single.history.test_accuracy[-1]:.3f}" in compare.tiles.caption(k)
        # its tile shows its last boundary, in the main window's colours
        assert np.array_equal(compare.tiles.images[k].image, BOUNDARY_LUT[tiles[k]])
        # its curve goes through (epoch, test loss) of every epoch of its run alone
        path = compare.curves[k].path()
        drawn_points = [(path.elementAt(i).x, path.elementAt(i).y)
                        for i in range(path.elementCount())]
        assert [x for x, _ in drawn_points] == [1, 2, 3, 4]
        assert [y for _, y in drawn_points] == pytest.approx(single.history.test_loss, abs=1e-5)
    legend = [label.text for _, label in compare.legend.items]
    assert legend == ["1  lr 0.03", "2  lr 0.1", "3  lr 0.3"]


def click_tile(qtbot, compare, k: int) -> None:
    """A real left click in the middle of tile k."""
    tiles = compare.tiles
    centre = tiles.views[k].sceneBoundingRect().center()
    point = tiles.mapFromScene(centre)
    qtbot.mouseClick(tiles.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(point.x(), point.y()))


def test_a_click_on_a_tile_makes_that_variant_the_main_model_undoably(qtbot, main) -> None:
    before = {k: v.clone() for k, v in main.session.model.state_dict().items()}
    old_experiment = main.experiment
    compare = open_window(qtbot, main, "compare")
    compare.parameter.setCurrentIndex(compare.parameter.findData("seed"))
    compare.values.setText("3, 4")
    compare.make_button.click()
    item = compare.table.item(1, 0)
    item.setText("0.3")  # the second variant: seed 4 and its own learning rate
    train_to_the_limit(qtbot, compare)
    trained = compare.controller.session.runs.state_of(1)
    with qtbot.waitSignal(main.session_rebuilt, timeout=TIMEOUT):
        click_tile(qtbot, compare, 1)
    assert main.experiment.train.seed == 4 and main.experiment.train.learning_rate == 0.3
    assert main.controls.learning_rate.value() == pytest.approx(0.3)
    for key, value in trained.items():
        assert torch.equal(main.session.model.state_dict()[key], value), key
    assert main.session.epoch == 4
    assert main.undo_stack.undoText().startswith("Use variant 2")
    main.undo_stack.undo()  # one step: the settings and the weights the main window had
    assert main.experiment == old_experiment
    for key, value in before.items():
        assert torch.equal(main.session.model.state_dict()[key], value), key
    main.undo_stack.redo()
    for key, value in trained.items():
        assert torch.equal(main.session.model.state_dict()[key], value), key


def test_a_diverging_variant_is_marked_on_its_tile_and_the_others_go_on(qtbot) -> None:
    network = NetworkSpec.parse("linear:8,relu,linear:1")
    main = make_window(
        qtbot, Experiment(network, DataSpec(points=400), TrainSpec(batch_size=20, max_epochs=6))
    )
    compare = open_window(qtbot, main, "compare")
    compare.values.setText("0.05, 50")
    compare.make_button.click()
    train_to_the_limit(qtbot, compare)
    session = compare.controller.session
    assert session.epoch == 6 and session.runs.diverged[0] is None
    epoch, _ = session.runs.diverged[1]
    assert compare.tiles.notes[1].isVisible()
    assert f"diverged at epoch {epoch}" in compare.tiles.notes[1].toPlainText()
    assert not compare.tiles.notes[0].isVisible()
    single = alone(main.experiment, Variant.of(main.experiment.train, learning_rate=0.05), 6)
    for key, value in single.model.state_dict().items():
        torch.testing.assert_close(session.runs.state_of(0)[key], value, rtol=0, atol=1e-5)


def test_sixteen_variants_get_sixteen_square_tiles_and_numbered_curves(qtbot) -> None:
    main = make_window(qtbot, small(max_epochs=2))
    compare = open_window(qtbot, main, "compare")
    compare.parameter.setCurrentIndex(compare.parameter.findData("seed"))
    compare.values.setText(", ".join(str(s) for s in range(16)))
    compare.make_button.click()
    train_to_the_limit(qtbot, compare)
    tiles = compare.tiles
    qtbot.waitUntil(lambda: tiles.complete, timeout=TIMEOUT)
    qtbot.wait(100)  # the layout of the last tiles
    tiles.scene().prepareForPaint()  # pyqtgraph maps the views' data just before a paint
    assert len(tiles.views) == 16 and len(compare.curves) == 16
    area = tiles.mapToScene(tiles.viewport().rect()).boundingRect()
    frames = [frame.sceneBoundingRect() for frame in tiles.frames]
    for k, rect in enumerate(frames):
        assert rect.width() == pytest.approx(rect.height(), abs=2)  # square, as the data
        assert rect.width() > 60 and area.contains(rect)
        assert not any(rect.intersects(other) for other in frames[k + 1 :])
    legend = [label.text for _, label in compare.legend.items]
    assert legend == [f"{k + 1}  seed {k}" for k in range(16)]
    styles = [curve.pen().style() for curve in compare.curves]
    assert styles == [Qt.PenStyle.SolidLine] * 8 + [Qt.PenStyle.DashLine] * 8
    colours = [curve.pen().color().name() for curve in compare.curves]
    assert len(set(colours[:8])) == 8 and colours[8:] == colours[:8]


def test_bad_values_get_a_message_naming_them(qtbot, main) -> None:
    compare = open_window(qtbot, main, "compare")
    compare.values.setText("0.1, fast")
    compare.make_button.click()
    assert "Learning rate: 'fast' is not a number." in compare.message.text()
    compare.values.setText(", ".join(str(i) for i in range(1, 18)))
    compare.make_button.click()
    assert "at most 16" in compare.message.text()
    compare.values.setText("0.1, 0.3")
    compare.make_button.click()
    compare.table.setItem(1, 0, QTableWidgetItem("-2"))
    compare.play_button.click()
    assert "Variant 2: The learning rate must be above 0" in compare.message.text()
    compare.table.setItem(1, 0, QTableWidgetItem("0.3"))
    compare.table.setItem(0, 3, QTableWidgetItem("He"))
    compare.play_button.click()
    assert "Variant 1: Initialisation: 'He' is not an initialisation" in compare.message.text()
    assert not compare.controller.is_playing


def test_pause_and_stop(qtbot) -> None:
    main = make_window(qtbot, small())  # no epoch limit: trains until paused
    compare = open_window(qtbot, main, "compare")
    compare.play_button.click()
    qtbot.waitUntil(lambda: compare.last_snapshot is not None and compare.last_snapshot.epoch > 2,
                    timeout=TIMEOUT)
    assert compare.play_button.text() == "Pause"
    compare.play_button.click()
    qtbot.waitUntil(lambda: compare.controller.is_idle, timeout=TIMEOUT)
    paused = compare.controller.session.epoch
    compare.play_button.click()  # goes on from there
    qtbot.waitUntil(lambda: compare.last_snapshot.epoch > paused + 2, timeout=TIMEOUT)
    compare.stop_button.click()
    assert compare.controller.session is None and not compare.controller.is_playing
    assert "Stopped" in compare.message.text()


# -- Sweep -------------------------------------------------------------------------------------


def set_axes(sweep, rows: str, row_values: str, columns: str, column_values: str) -> None:
    sweep.row_parameter.setCurrentIndex(sweep.row_parameter.findData(rows))
    sweep.column_parameter.setCurrentIndex(sweep.column_parameter.findData(columns))
    sweep.row_values.setText(row_values)
    sweep.column_values.setText(column_values)


def test_a_sweep_exports_csv_of_the_runs_and_a_png(qtbot, main, tmp_path, monkeypatch) -> None:
    sweep = open_window(qtbot, main, "sweep")
    set_axes(sweep, "learning_rate", "0.1, 0.5", "weight_decay", "0, 0.01")
    sweep.seeds.setValue(2)
    sweep.epochs.setValue(3)
    assert not sweep.csv_button.isEnabled()
    with qtbot.waitSignal(sweep.controller.stopped, timeout=TIMEOUT):
        sweep.run_button.click()
    assert sweep.finished and sweep.csv_button.isEnabled()
    assert sweep.progress.value() == 1000 and "8 runs" in sweep.message.text()
    assert len(sweep.heatmap.texts) == 4

    target = tmp_path / "sweep.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    sweep.csv_button.click()
    rows = list(csv.DictReader(target.open()))
    assert [(r["learning_rate"], r["weight_decay"]) for r in rows] == [
        ("0.1", "0.0"), ("0.1", "0.01"), ("0.5", "0.0"), ("0.5", "0.01"),
    ]
    seeds = (main.experiment.train.seed, main.experiment.train.seed + 1)
    for row in rows:
        lr, decay = float(row["learning_rate"]), float(row["weight_decay"])
        runs = [
            alone(main.experiment, Variant(lr, decay, s), 3).history.test_accuracy[-1]
            for s in seeds
        ]
        assert [float(row[f"seed_{s}"]) for s in seeds] == pytest.approx(runs, abs=1e-6)
        assert float(row["test_accuracy_mean"]) == pytest.approx(statistics.fmean(runs), abs=1e-9)
        assert float(row["test_accuracy_sd"]) == pytest.approx(statistics.stdev(runs), abs=1e-9)
        # the heatmap's cell says the same: mean ± sd of the two seeds
        i, j = (0.1, 0.5).index(lr), (0.0, 0.01).index(decay)
        (cell,) = [t for t in sweep.heatmap.texts if (t.pos().x(), t.pos().y()) == (j + .5, i + .5)]
        said = cell.textItem.toPlainText()
        assert f"{statistics.fmean(runs):.3f}" in said and f"± {statistics.stdev(runs):.3f}" in said
    means = [float(r["test_accuracy_mean"]) for r in rows]
    assert sweep.heatmap.best == divmod(means.index(max(means)), 2)  # the framed cell
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask

    picture = tmp_path / "sweep"  # no suffix: the filter's .png is added
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(picture), ""))
    sweep.png_button.click()
    image = QImage(str(tmp_path / "sweep.png"))
    assert not image.isNull() and image.width() > 100
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.csv", "sweep.png"]
    assert stat.S_IMODE((tmp_path / "sweep.png").stat().st_mode) == 0o666 & ~umask

    # a write that fails at the last step leaves the file that was there, and no temp file
    before = target.read_bytes()

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: None)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    sweep.csv_button.click()
    assert "No space left" in sweep.message.text()
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.csv", "sweep.png"]


def test_a_sweep_can_be_cancelled(qtbot, main) -> None:
    sweep = open_window(qtbot, main, "sweep")
    set_axes(sweep, "learning_rate", "0.01, 0.1, 1", "batch_size", "10, 20")
    sweep.epochs.setValue(100_000)
    sweep.run_button.click()
    assert sweep.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: sweep.progress.value() > 0 or sweep.result is not None,
                    timeout=TIMEOUT)
    sweep.cancel_button.click()
    assert not sweep.controller.is_playing and sweep.controller.session is None
    assert "Cancelled" in sweep.message.text()
    assert sweep.run_button.isEnabled() and not sweep.csv_button.isEnabled()
    assert not sweep.export_csv("/nonexistent/never.csv")
    assert "Nothing to export" in sweep.message.text()


def test_a_sweep_that_cannot_run_says_why(qtbot, main) -> None:
    sweep = open_window(qtbot, main, "sweep")
    set_axes(sweep, "learning_rate", "0.1", "learning_rate", "0.2")
    sweep.run_button.click()
    assert "two different settings" in sweep.message.text()
    set_axes(sweep, "learning_rate", "0.1, x", "weight_decay", "0")
    sweep.run_button.click()
    assert "Learning rate: 'x' is not a number." in sweep.message.text()
    set_axes(sweep, "learning_rate", "0, 0.1", "weight_decay", "0")
    sweep.run_button.click()
    assert "Cell lr 0, L2 0: The learning rate must be above 0" in sweep.message.text()
    assert not sweep.controller.is_playing


def test_a_failed_export_gets_a_dialog(qtbot, main, tmp_path, monkeypatch) -> None:
    sweep = open_window(qtbot, main, "sweep")
    set_axes(sweep, "learning_rate", "0.1", "weight_decay", "0")
    sweep.seeds.setValue(1)
    sweep.epochs.setValue(1)
    with qtbot.waitSignal(sweep.controller.stopped, timeout=TIMEOUT):
        sweep.run_button.click()
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    assert not sweep.export_csv(tmp_path / "missing" / "sweep.csv")
    assert shown and "Could not write" in shown[0]
    assert not (tmp_path / "missing").exists()


def test_the_loss_axis_top_steps_through_round_numbers() -> None:
    from playground.widgets.compare_window import fine_ceiling

    cases = {0.54: 0.6, 1.0: 1.0, 1.01: 1.2, 0.0013: 0.0015, 9.0: 10.0, 2.6e-5: 3e-5}
    for value, top in cases.items():
        assert fine_ceiling(value) == pytest.approx(top, rel=1e-12)
    for value in np.geomspace(1e-4, 1e3, 2000):
        top = fine_ceiling(value)
        assert value <= top <= 4 / 3 * value  # at most a quarter of the plot left empty
