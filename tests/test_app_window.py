"""The main window: start-up state, edits that reset, live settings, toggles, closing mid-run."""

from __future__ import annotations

import gc
import math
import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtCore import Qt

from playground.experiment import LayerSpec
from playground.session import HistoryRows
from playground.widgets.main_window import MainWindow


@pytest.fixture
def window(qtbot):
    win = MainWindow()
    win.ask_before_closing = False
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def test_opens_ready_with_the_disk_and_the_seed_network(window):
    assert window.session is not None and window.session.epoch == 0
    assert window.experiment.network.to_text() == (
        "linear:25,relu,linear:25,relu,linear:25,relu,linear:1,sigmoid"
    )
    assert window.controls.play_action.isEnabled()
    assert "press Play" in window.statusBar().currentMessage()
    boundary = window.plots.boundary
    assert len(boundary.train_points.data) == 1000 and len(boundary.test_points.data) == 1000
    assert window.controls.epoch_label.text() == "Epoch 000,000"


def test_every_action_has_a_name_a_tooltip_and_menu_shortcuts(window):
    shortcuts = {
        a.objectName(): a.shortcut().toString()
        for a in window.findChildren(type(window.controls.play_action))
        if a.objectName()
    }
    assert shortcuts["play"] == "Space"
    assert shortcuts["undo"] == "Ctrl+Z" and shortcuts["redo"] in ("Ctrl+Y", "Ctrl+Shift+Z")
    assert shortcuts["import_model"] == "Ctrl+I" and shortcuts["export_model"] == "Ctrl+E"
    assert shortcuts["quit"] == "Ctrl+Q"
    for top in window.menuBar().actions():
        for action in top.menu().actions():
            if not action.isSeparator():
                assert action.objectName() and action.toolTip(), action.text()


def test_network_edit_resets_the_weights_and_says_so(window):
    old = window.session.session_id
    window.builder.model.insert_layer(6, LayerSpec.make("tanh"))
    assert window.session.session_id != old
    assert "weights were reset" in window.statusBar().currentMessage()
    window.undo_action.trigger()
    assert window.experiment.network.to_text().count("tanh") == 0


def test_layer_edits_and_point_edits_share_one_history_in_the_document(window):
    seed = window.experiment.network
    window.builder.model.insert_layer(6, LayerSpec.make("tanh"))
    assert window.undo_stack.undoText() == "Add Tanh"
    assert window.experiment.network == window.builder.model.network() != seed
    window._on_plot_clicked(0.5, 0.5, Qt.KeyboardModifier.NoModifier)
    assert len(window.experiment.data.added) == 1
    window.builder.model.move_layer(0, 2)
    assert window.undo_stack.undoText() == "Move Linear"
    for _ in range(3):
        window.undo_action.trigger()
    assert window.experiment.network == seed and not window.experiment.data.added
    assert window.builder.model.network() == seed  # the stack shows the document
    assert not window.is_modified()
    window.redo_action.trigger()
    assert window.builder.model.layers()[6].kind == "tanh"


def test_opening_an_experiment_starts_a_new_history(window, tmp_path):
    window.builder.model.insert_layer(6, LayerSpec.make("tanh"))
    path = tmp_path / "other.json"
    window.save_experiment(path)
    window.open_experiment(path)
    assert window.undo_stack.count() == 0 and not window.undo_action.isEnabled()
    assert window.builder.model.network() == window.experiment.network


def test_data_change_makes_new_points_and_says_so(window, qtbot):
    window.data_panel.dataset.setCurrentIndex(window.data_panel.dataset.findData("xor"))
    assert window.experiment.data.dataset == "xor"
    assert "new points" in window.statusBar().currentMessage()
    assert window.session.data_arrays().domain == (-6.0, 6.0, -6.0, 6.0)
    window.data_panel.regenerate.click()
    assert window.experiment.data.seed == 1


def test_features_set_the_input_width(window):
    window.data_panel.feature_boxes["x1^2"].setChecked(True)
    assert window.session.model[0].in_features == 3
    for box in window.data_panel.feature_boxes.values():
        box.setChecked(False)
    assert window.session is None
    assert "Choose at least one input feature" in window.builder.problem_label.text()
    assert not window.controls.play_action.isEnabled()


def test_loss_that_does_not_fit_the_stack_blocks_play_with_a_message(window):
    window.controls.loss.setCurrentIndex(window.controls.loss.findData("cross_entropy"))
    assert window.session is None
    assert "remove the activation" in window.builder.problem_label.text()
    assert not window.controls.play_action.isEnabled()
    window.builder.model.remove_layer(7)  # the Sigmoid
    assert window.session is not None and window.session.model[-1].out_features == 2


def test_space_plays_and_pauses_and_lr_applies_live(window, qtbot):
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.controller.is_playing
    assert window.controls.play_action.text() == "&Pause"
    qtbot.waitUntil(lambda: window.last_snapshot.epoch >= 2, timeout=10_000)
    window.controls.learning_rate.setValue(0.03)
    assert "learning rate 0.03" in window.statusBar().currentMessage()

    def lr_in_training() -> float:
        with window.controller.locked_session() as session:  # a copy from the worker
            return session.optimizer.param_groups[0]["lr"]

    qtbot.waitUntil(lambda: lr_in_training() == 0.03, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert not window.controller.is_playing
    assert window.controls.play_action.text() == "&Play"
    assert math.isfinite(window.last_snapshot.test_loss)
    qtbot.waitUntil(lambda: window.controller.is_idle, timeout=5000)
    assert window.session.epoch == window.last_snapshot.epoch  # back, as last shown


def test_start_up_objects_are_kept_out_of_full_collections(window):
    # a full collection over start-up's ~200,000 objects stalled the GUI thread ~140 ms
    assert gc.get_freeze_count() > 10_000


def test_play_says_why_when_no_training_process_starts(window, qtbot, monkeypatch):
    import multiprocessing.process

    def refuse(self):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", refuse)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert not window.controller.is_playing
    assert window.controls.play_action.text() == "&Play"
    message = window.statusBar().currentMessage()
    assert "could not start the training process" in message and "unavailable" in message
    assert window.session is not None and window.session.epoch == 0  # nothing lost


def test_step_trains_one_epoch_and_reset_starts_over(window, qtbot):
    with qtbot.waitSignal(window.controller.snapshot, timeout=30_000):
        window.controls.step_action.trigger()
    assert "Starting the training process" not in window.statusBar().currentMessage()
    assert window.last_snapshot.epoch == 1
    assert window.controls.epoch_label.text() == "Epoch 000,001"
    window.controls.reset_action.trigger()
    assert window.session.epoch == 0 and window.experiment.train.seed == 1
    assert "new random weights" in window.statusBar().currentMessage()


def test_closing_while_training_ends_the_worker_process(qtbot):
    win = MainWindow()
    win.ask_before_closing = False
    qtbot.addWidget(win)
    win.show()
    win.toggle_play()
    qtbot.waitUntil(lambda: win.last_snapshot.epoch >= 1, timeout=10_000)
    process = win.controller._process
    win.close()
    assert not process.is_alive() and process.exitcode == 0


def test_view_toggles(window):
    boundary = window.plots.boundary
    window.plots.show_test_action.setChecked(False)
    assert not boundary.test_points.isVisible()
    window.plots.discretize_action.setChecked(True)
    assert set(np.unique(boundary.image.image)) <= {0.0, 1.0}
    window.plots.log_scale_action.setChecked(True)
    assert window.plots.loss.getPlotItem().ctrl.logYCheck.isChecked()


def test_nan_never_breaks_a_plot(window):
    plots = window.plots
    plots.boundary.set_grid(np.full((100, 100), np.nan, dtype=np.float32))
    bad = np.array([np.nan, np.inf, -1.0, 0.5])
    rows = HistoryRows(0, np.arange(1, 5), bad, bad, bad, bad)
    for log in (False, True):
        plots.log_scale_action.setChecked(log)
        plots.clear_history()
        plots.history.add(rows)
        plots.loss.show_history(plots.history)
        plots.accuracy.show_history(plots.history)
    all_nan = HistoryRows(
        0,
        np.arange(1, 3),
        np.full(2, np.nan),
        np.full(2, np.nan),
        np.full(2, np.nan),
        np.full(2, np.nan),
    )
    plots.clear_history()
    plots.history.add(all_nan)
    plots.loss.show_history(plots.history)
    window.grab()  # painting with NaN everywhere must not raise


def test_window_opens_before_torch_is_imported():
    code = (
        "import sys; from PySide6.QtWidgets import QApplication; app = QApplication([]);"
        "from playground.widgets.main_window import MainWindow;"
        "w = MainWindow(build_now=False); print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": ""},
    )
    assert out.stdout.strip().endswith("False")


def test_long_sessions_survive_pyside_none_leak():
    # PySide6 6.12.0 on Python 3.11 drops a reference to None on every void call; without the
    # guard this loop aborts the interpreter ("none_dealloc")
    code = (
        "import playground.widgets; from PySide6.QtWidgets import QApplication, QLabel;"
        "app = QApplication([]); label = QLabel()\n"
        "for _ in range(300_000): label.setText('x')\n"
        "print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": ""},
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-300:]
