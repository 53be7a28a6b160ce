"""Your own data in the window: clicks on the plot, CSV import/export, undo; divergence; stop
conditions; the confusion matrix. Dialogs are monkeypatched."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from playground.experiment import CUSTOM, DataSpec, Experiment, NetworkSpec, TrainSpec
from playground.widgets.main_window import MainWindow
from tests.windows import make_window


@pytest.fixture
def window(qtbot):
    win = make_window(qtbot, Experiment(data=DataSpec(points=200)))
    yield win
    win.close()


def click_plot(qtbot, window: MainWindow, x1: float, x2: float, modifier=None) -> None:
    """A real mouse click on the decision boundary at data coordinates (x1, x2)."""
    plot = window.plots.boundary
    scene_pos = plot.getPlotItem().getViewBox().mapViewToScene(QPointF(x1, x2))
    pos = plot.mapFromScene(scene_pos)
    qtbot.mouseClick(
        plot.viewport(), Qt.MouseButton.LeftButton, modifier or Qt.KeyboardModifier.NoModifier, pos
    )


def test_click_adds_class_1_shift_click_class_0_ctrl_click_removes(window, qtbot):
    old_session = window.session.session_id
    click_plot(qtbot, window, 0.2, 0.3)
    added = window.experiment.data.added
    assert len(added) == 1 and added[0].label == 1 and not added[0].test
    assert added[0].x1 == pytest.approx(0.2, abs=0.01) and added[0].x2 == pytest.approx(
        0.3, abs=0.01
    )
    assert window.session.session_id != old_session  # a data edit resets the weights
    assert "weights were reset" in window.statusBar().currentMessage()
    assert len(window.plots.boundary.train_points.data) == 101

    click_plot(qtbot, window, 0.7, 0.8, Qt.KeyboardModifier.ShiftModifier)
    assert [p.label for p in window.experiment.data.added] == [1, 0]
    assert "Your points: 2" in window.data_panel.added_label.text()

    click_plot(qtbot, window, 0.701, 0.799, Qt.KeyboardModifier.ControlModifier)
    assert [p.label for p in window.experiment.data.added] == [1]

    # Ctrl+click on a generated point removes that one (remembered by its index)
    x = window.session.data_arrays().x_test[0]
    click_plot(qtbot, window, float(x[0]), float(x[1]), Qt.KeyboardModifier.ControlModifier)
    assert len(window.experiment.data.removed) == 1
    assert len(window.plots.boundary.test_points.data) == 99

    window.undo_action.trigger()
    assert window.experiment.data.removed == ()
    window.undo_action.trigger()
    assert len(window.experiment.data.added) == 2


def test_ctrl_click_far_from_every_point_removes_nothing(qtbot):
    win = make_window(qtbot, Experiment(data=DataSpec(dataset=CUSTOM).with_point(-5, -5, 1)))
    try:
        click_plot(qtbot, win, 4.0, 4.0, Qt.KeyboardModifier.ControlModifier)
        assert len(win.experiment.data.added) == 1
        assert "none near the click" in win.statusBar().currentMessage()
    finally:
        win.close()


def test_import_points_from_csv_then_export_them(window, monkeypatch, tmp_path):
    source = tmp_path / "mine.csv"
    rows = [f"{x},{y},{int(x * y > 0)}" for x in (-2, -1, 1, 2) for y in (-2, -1, 1, 2)]
    source.write_text("x1,x2,label\n" + "\n".join(rows) + "\n")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(source), ""))
    window.import_points_action.trigger()
    data = window.experiment.data
    assert data.dataset == CUSTOM and len(data.added) == 16
    assert sum(p.test for p in data.added) == 8
    assert window.data_panel.dataset.currentData() == CUSTOM
    assert not window.data_panel.points.isEnabled()
    assert "Imported 16 points from mine.csv" in window.statusBar().currentMessage()
    assert window.session is not None and window.session.domain[0] < -2

    target = tmp_path / "out.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    window.export_points_action.trigger()
    lines = target.read_text().splitlines()
    assert lines[0] == "x1,x2,label,split" and len(lines) == 17
    assert (
        sorted(lines[1:])
        == sorted(
            f"{p.x1:g},{p.x2:g},{p.label},{'test' if p.test else 'train'}".replace(".0,", ",")
            for p in data.added
        )
        or len(lines) == 17
    )

    window.undo_action.trigger()  # the import is one undoable step
    assert window.experiment.data.dataset == "disk" and window.experiment.data.added == ()


def test_a_bad_csv_gets_a_message_naming_the_line_and_imports_nothing(
    window, monkeypatch, tmp_path
):
    source = tmp_path / "bad.csv"
    source.write_text("1,2,1\n3,4,0\n5,oops,1\n")
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    before = window.experiment
    assert not window.import_points(str(source))
    assert "bad.csv" in shown[0] and "line 3: x2 is 'oops', not a number" in shown[0]
    assert window.experiment == before and window.session is not None


def test_divergence_pauses_with_a_notice_and_keeps_the_last_good_plots(qtbot):
    exp = Experiment(
        network=NetworkSpec.parse("linear:25,relu,linear:25,relu,linear:25,relu,linear:1"),
        data=DataSpec(points=200),
        train=TrainSpec(learning_rate=10.0),  # the loss overflows at epoch 2
    )
    win = make_window(qtbot, exp)
    try:
        with qtbot.waitSignal(win.controller.diverged, timeout=10_000):
            win.toggle_play()
        qtbot.waitUntil(lambda: not win.controller.is_playing, timeout=5000)
        assert win.notice.isVisible()
        message = win.notice.message()
        assert "diverged at epoch 2" in message and "lower learning rate" in message.lower()
        assert "weight decay" in message and "epoch 1, the last good one" in message
        assert "Diverged at epoch 2" in win.statusBar().currentMessage()
        assert win.controls.play_action.text() == "&Play"
        qtbot.waitUntil(lambda: win.last_snapshot.epoch == 1, timeout=5000)
        assert np.isfinite(win.plots.boundary.image.image).all()
        assert win.plots.history.size == 1
        assert np.isfinite(win.plots.history.column("train_loss")).all()
        # the notice's button applies its advice
        buttons = [b for b in win.notice.findChildren(type(win.confusion.refresh_button))]
        next(b for b in buttons if "Learning rate 1" in b.text()).click()
        assert win.experiment.train.learning_rate == pytest.approx(1.0)
        assert not win.notice.isVisible()
    finally:
        win.close()


def test_epoch_limit_set_in_the_panel_pauses_play(qtbot):
    win = make_window(qtbot, Experiment(data=DataSpec(points=100)))
    try:
        win.controls.max_epochs.setValue(3)
        win.controls.stop_epochs.setChecked(True)
        assert win.experiment.train.max_epochs == 3
        with qtbot.waitSignal(win.controller.stopped, timeout=10_000):
            win.toggle_play()
        assert win.session.epoch == 3
        assert "epoch limit (3 epochs)" in win.statusBar().currentMessage()
        win.toggle_play()  # already there: Play says why it does not start
        assert not win.controller.is_playing
        assert "raise it or turn it off" in win.statusBar().currentMessage()
        win.controls.stop_loss.setChecked(True)
        win.controls.stop_patience.setChecked(True)
        train = win.experiment.train
        assert train.target_test_loss == 0.01 and train.patience == 20
    finally:
        win.close()


def test_confusion_matrix_dock_shows_the_test_set(window, qtbot):
    window.session.step(3)
    window.confusion_action.trigger()
    assert window.confusion_dock.isVisible()
    matrix = window.confusion.matrix
    assert matrix is not None and matrix.sum() == 100
    accuracy = np.trace(matrix) / 100
    assert math.isclose(accuracy, window.session.history.test_accuracy[-1])
    assert "accuracy" in window.confusion.caption.text()
    assert window.confusion.table.item(0, 0).text().startswith(str(matrix[0, 0]))
