"""Class files in the window (issue 13 item 6): Save for Class…, opening one (File > Open,
--open, File > Examples), what is hidden and locked, every way of changing a locked setting
refused, Leave Class Mode…, and a class file trained through the real command line.

Oracles: the states the teacher ticked, the experiment as the file holds it (a refused change
leaves it equal), the weights of the session (unchanged by a refused edit), and the same run
without the section (bit for bit)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QByteArray, QMimeData, Qt
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox
from safetensors.torch import load_file

from playground.app import parse_args
from playground.classroom import CONTROLS, Classroom, State
from playground.experiment import (
    DataSpec,
    Experiment,
    LayerSpec,
    TrainSpec,
    dump_experiment,
    load_experiment,
)
from playground.widgets.classroom_dialog import PRESETS, SaveForClassDialog
from playground.widgets.network_builder import MIME_LAYER_KIND
from tests.windows import make_window

ROOT = Path(__file__).resolve().parent.parent
LESSON = Classroom.from_dict(
    {
        "note": "Find a good learning rate.",
        "controls": {
            "training": "lock",
            "training.learning_rate": "show",
            "training.play": "show",
            "data": "hide",
            "network": "lock",
            "plots.gradients": "hide",
            "plots.view_options": "lock",
            "inside.maths": "hide",
        },
    }
)
SMALL = Experiment(data=DataSpec(points=200))


def class_file(tmp_path: Path, classroom: Classroom = LESSON, base: Experiment = SMALL) -> Path:
    path = tmp_path / "lesson.json"
    path.write_text(dump_experiment(base.replace(classroom=classroom)))
    return path


@pytest.fixture
def window(qtbot):
    win = make_window(qtbot, SMALL)
    yield win
    win.close()


@pytest.fixture
def lesson(qtbot, tmp_path, monkeypatch):
    """A window that opened a class file with File > Open."""
    win = make_window(qtbot, SMALL)
    path = class_file(tmp_path)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    win.open_action.trigger()
    yield win
    win.close()


def shown(win, widget) -> bool:
    return widget.isVisibleTo(win)


# -- the dialog -------------------------------------------------------------------------------


def test_the_dialog_ticks_one_box_a_row_and_a_panel_row_sets_its_controls(qtbot):
    dialog = SaveForClassDialog(None, None, epoch=12)
    qtbot.addWidget(dialog)
    items = dialog._items
    # tick "Lock" on the Training row: every training control is locked
    items["training"].setCheckState(2, Qt.CheckState.Checked)
    assert all(dialog.state(n) is State.LOCK for n in CONTROLS if n.startswith("training."))
    # then "Show" on the learning rate alone: the panel row is partly locked, partly shown
    items["training.learning_rate"].setCheckState(1, Qt.CheckState.Checked)
    assert dialog.state("training.learning_rate") is State.SHOW
    assert items["training"].checkState(1) == Qt.CheckState.PartiallyChecked
    assert items["training"].checkState(2) == Qt.CheckState.PartiallyChecked
    # unticking the ticked box changes nothing: a row always has one state
    items["training.loss"].setCheckState(2, Qt.CheckState.Unchecked)
    assert dialog.state("training.loss") is State.LOCK
    assert items["training.loss"].checkState(2) == Qt.CheckState.Checked
    # a plot has no Lock box; hiding the network locks what cannot hide
    assert items["plots.boundary"].data(2, Qt.ItemDataRole.CheckStateRole) is None
    assert items["plots.boundary"].text(2) == "–"
    items["network"].setCheckState(3, Qt.CheckState.Checked)
    assert dialog.state("network.layers") is State.HIDE
    assert dialog.state("network.weights") is State.LOCK
    dialog.note.setPlainText("  Only the learning rate.  ")
    classroom = dialog.classroom()
    assert classroom.note == "Only the learning rate."
    assert classroom.states() == {n: dialog.state(n) for n in CONTROLS}
    assert dialog.weights.isEnabled() and "epoch 12" in dialog.weights.text()


def test_a_preset_fills_the_tree_and_the_dialog_starts_from_a_classroom(qtbot):
    dialog = SaveForClassDialog(None, LESSON, epoch=None)
    qtbot.addWidget(dialog)
    assert {n: dialog.state(n) for n in CONTROLS} == LESSON.states()
    assert dialog.note.toPlainText() == LESSON.note
    assert not dialog.weights.isEnabled() and not dialog.with_weights()
    index = dialog.preset.findText("Only the learning rate")
    dialog.preset.setCurrentIndex(index)
    dialog.preset.activated.emit(index)
    assert dialog.classroom().states() == PRESETS["Only the learning rate"].states()


# -- saving -----------------------------------------------------------------------------------


def test_save_for_class_writes_a_class_file_and_leaves_the_window_as_it_was(
    window, monkeypatch, tmp_path
):
    path = tmp_path / "lesson-class.json"

    def choose(dialog):
        dialog._items["network"].setCheckState(2, Qt.CheckState.Checked)  # lock
        dialog._items["data"].setCheckState(3, Qt.CheckState.Checked)  # hide
        dialog.note.setPlainText("Look, do not touch.")
        dialog.weights.setChecked(True)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(SaveForClassDialog, "exec", choose)
    asked = []
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        lambda *a, **k: asked.append(a[2]) or (str(path), ""),
    )
    window.session.step()
    before = window.experiment
    window.class_mode.save_action.trigger()
    assert asked[0].endswith("experiment-class.json")
    experiment, weights = load_experiment(path.read_text())
    assert experiment.replace(classroom=None) == before
    assert experiment.classroom.note == "Look, do not touch."
    states = experiment.classroom.states()
    assert states["network.layers"] is State.LOCK and states["network.weights"] is State.LOCK
    assert states["data.dataset"] is State.HIDE and states["training.loss"] is State.SHOW
    assert weights is not None and weights.epoch == 1
    # written whole, with the umask's permissions; the teacher's window is not in class mode
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert list(tmp_path.iterdir()) == [path]
    assert window.experiment == before and window.class_mode.classroom is None
    assert "Saved the class file lesson-class.json with the weights of epoch 1" in (
        window.statusBar().currentMessage()
    )


def test_a_cancelled_dialog_or_file_name_writes_nothing(window, monkeypatch, tmp_path):
    monkeypatch.setattr(SaveForClassDialog, "exec", lambda d: QDialog.DialogCode.Rejected)
    assert not window.class_mode.save_for_class()
    monkeypatch.setattr(SaveForClassDialog, "exec", lambda d: QDialog.DialogCode.Accepted)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: ("", ""))
    assert not window.class_mode.save_for_class()
    assert list(tmp_path.iterdir()) == []


# -- opening ----------------------------------------------------------------------------------


def test_a_class_file_shows_only_what_it_says(lesson):
    win = lesson
    c, d, b, p, i = win.controls, win.data_panel, win.builder, win.plots, win.inside
    assert win.experiment.classroom == LESSON
    # hidden: the data panel (its column keeps the locked stop conditions), a tab, the maths
    # dock and its View-menu toggle
    assert not shown(win, d) and shown(win, c.stop_box) and not c.stop_box.isEnabled()
    assert not p.tabs.isTabVisible(1) and p.tabs.isTabVisible(0)
    assert not shown(win, i.maths_dock) and not i.maths_action.isVisible()
    assert shown(win, i.network_dock) and i.network_action.isVisible()
    # locked: visible and disabled, their actions too (so their shortcuts do nothing)
    for widget in (c.batch_size, c.loss, c.optimizer, b.view, b.palette_list):
        assert shown(win, widget) and not widget.isEnabled(), widget.objectName()
    assert "Locked by the class file" in c.loss.toolTip()
    for action in (c.reset_action, b.view.remove_action, win.import_action):
        assert not action.isEnabled(), action.objectName()
    assert not p.show_test_action.isEnabled()
    # shown: the learning rate and Play
    assert c.learning_rate.isEnabled() and shown(win, c.learning_rate)
    assert c.play_action.isEnabled() and c.step_action.isEnabled()
    # the window says so
    assert "(class file)" in win.windowTitle()
    assert win.class_mode.banner.isVisibleTo(win)
    banner = win.class_mode.banner.message()
    assert "Class file" in banner and LESSON.note in banner and "Hidden: the data panel" in banner
    assert win.class_mode.status_label.isVisibleTo(win)
    assert win.class_mode.leave_action.isVisible()


def test_locked_controls_stay_disabled_when_their_panel_would_enable_them(qtbot, tmp_path):
    classroom = Classroom((("data.points", State.LOCK), ("data.noise", State.LOCK)))
    custom = Experiment(data=DataSpec(dataset="custom").with_point(0.1, 0.2, 1))
    win = make_window(qtbot, custom.replace(classroom=classroom))
    try:
        assert not win.data_panel.points.isEnabled()
        # back to a generated dataset: the data panel enables the generator's settings
        win.data_panel.dataset.setCurrentIndex(win.data_panel.dataset.findData("disk"))
        assert win.experiment.data.dataset == "disk"
        assert not win.data_panel.points.isEnabled() and not win.data_panel.noise.isEnabled()
        assert win.data_panel.test_percent.isEnabled()
    finally:
        win.close()


def test_every_way_of_changing_the_locked_network_is_refused(lesson, qtbot):
    win = lesson
    model, network = win.builder.model, win.experiment.network
    # a drop from the palette, a move by drag and drop, a layer edit, Delete, the context
    # menu's move, a double-click in the palette
    mime = QMimeData()
    mime.setData(MIME_LAYER_KIND, QByteArray(b"tanh"))
    model.drop(mime, 0)
    model.move_layer(0, 2)
    model.edit_layer(0, LayerSpec("linear", units=3))
    win.builder.add_above_output("relu")
    win.builder.view.setCurrentIndex(model.index(1))
    win.builder.view.remove_action.trigger()
    win.builder.view.remove_current()
    assert win.experiment.network == network
    assert model.layers() == list(network.layers)  # the stack shows the file's network
    assert win.undo_stack.count() == 0  # nothing to undo into another network
    assert "Locked by the class file: layers." in win.statusBar().currentMessage()
    # a weight typed in the network view, a unit switched off
    before = {k: v.clone() for k, v in win.session.model.state_dict().items()}
    assert not win.inside.network._editable
    win.inside.network.parameterEdited.emit("2.weight", (1, 3), 2.5)
    win.inside.network.unitToggled.emit(1, 0, False)
    after = win.session.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not win.session.disabled_units
    assert "weights and units" in win.statusBar().currentMessage()
    assert win.undo_stack.count() == 0 and not win.isWindowModified()


def test_locked_settings_are_refused_from_widgets_and_shortcuts(lesson, qtbot):
    win = lesson
    experiment = win.experiment
    # a locked spin box set from code (as a keyboard mnemonic or a script would)
    win.controls.batch_size.setValue(7)
    assert win.experiment == experiment and win.controls.batch_size.value() == 50
    assert "Locked by the class file: batch size." in win.statusBar().currentMessage()
    # Ctrl+R is locked: the same weights' seed
    qtbot.keyClick(win, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    win.reset_weights()  # the slot itself, as a menu would call it
    assert win.experiment.train.seed == experiment.train.seed
    # the hidden data: a click on the plot adds no point, the menus clear or import none
    win._on_plot_clicked(0.5, 0.5, Qt.KeyboardModifier.NoModifier)
    win.clear_points()
    assert win.experiment == experiment
    assert "Hidden by the class file: your points." in win.statusBar().currentMessage()
    # the learning rate is the learner's to change
    win.controls.learning_rate.setValue(0.3)
    assert win.experiment.train.learning_rate == 0.3
    assert win.experiment.replace(train=experiment.train) == experiment
    # a column's title would open the hidden maths dock
    win.inside.network.columnSelected.emit(1)
    assert not shown(win, win.inside.maths_dock)


def test_a_locked_play_refuses_space_and_step(qtbot, tmp_path):
    classroom = Classroom((("training.play", State.LOCK),))
    win = make_window(qtbot, SMALL.replace(classroom=classroom))
    try:
        assert not win.controls.play_action.isEnabled()
        win.controls.set_trainable(True)  # what a new session does: still locked
        assert not win.controls.play_action.isEnabled()
        qtbot.keyClick(win, Qt.Key.Key_Space)
        win.toggle_play()
        win.step()
        assert not win.controller.is_playing and win.session.epoch == 0
        assert "Locked by the class file: playing" in win.statusBar().currentMessage()
    finally:
        win.close()


def test_hidden_play_buttons_and_docks_leave_the_screen(qtbot):
    from PySide6.QtWidgets import QToolButton

    classroom = Classroom(
        (("training.play", State.HIDE), ("inside", State.HIDE), ("plots.boundary", State.HIDE))
    )
    win = make_window(qtbot, SMALL.replace(classroom=classroom))
    try:
        for name in ("play", "step"):
            assert not shown(win, win.controls.findChild(QToolButton, f"{name}_button"))
        assert not win.controls.play_action.isVisible()
        assert not shown(win, win.inside.network_dock)
        assert not win.inside.network_action.isVisible()
        assert not shown(win, win.plots.boundary) and shown(win, win.plots.tabs)
        # leaving puts back what was there: the network dock, the buttons, the plot
        assert win.class_mode.leave(ask=False)
        assert shown(win, win.inside.network_dock) and not shown(win, win.inside.maths_dock)
        assert shown(win, win.controls.findChild(QToolButton, "play_button"))
        assert shown(win, win.plots.boundary) and win.controls.play_action.isVisible()
    finally:
        win.close()


def test_docks_a_class_file_hid_are_not_saved_as_the_users_layout(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    classroom = Classroom((("inside", State.HIDE),))
    win = make_window(qtbot, SMALL.replace(classroom=classroom), settings=settings)
    assert not shown(win, win.inside.network_dock)
    win.close()
    again = make_window(qtbot, SMALL, settings=settings)
    try:
        assert shown(again, again.inside.network_dock)
    finally:
        again.close()


def test_leave_class_mode_asks_then_shows_and_unlocks_everything(lesson, monkeypatch, tmp_path):
    win = lesson
    answers = [QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes]
    asked = []
    monkeypatch.setattr(
        QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or answers.pop(0)
    )
    win.class_mode.leave_action.trigger()
    assert win.class_mode.classroom is not None and not win.data_panel.isVisibleTo(win)
    win.class_mode.leave_action.trigger()
    assert len(asked) == 2 and "The class file is not changed" in asked[0]
    c = win.controls
    assert win.class_mode.classroom is None and win.experiment.classroom is None
    assert shown(win, win.data_panel) and shown(win, c.stop_box)
    for widget in (c.batch_size, c.loss, win.builder.view, win.builder.palette_list):
        assert widget.isEnabled() and "Locked" not in widget.toolTip()
    assert c.reset_action.isEnabled() and win.import_action.isEnabled()
    assert win.plots.tabs.isTabVisible(1) and win.inside.maths_action.isVisible()
    assert not win.class_mode.banner.isVisibleTo(win)
    assert not win.class_mode.leave_action.isVisible()
    assert "(class file)" not in win.windowTitle() and win.isWindowModified()
    # now the network can change, and Save writes an ordinary experiment
    win.builder.add_above_output("relu")
    assert len(win.experiment.network.layers) == len(SMALL.network.layers) + 1
    win.save_experiment(tmp_path / "plain.json")
    assert "classroom" not in (tmp_path / "plain.json").read_text()


def test_a_learner_saving_a_class_file_keeps_it_a_class_file(lesson, tmp_path):
    lesson.controls.learning_rate.setValue(0.03)
    lesson.save_experiment(tmp_path / "mine.json")
    experiment = load_experiment((tmp_path / "mine.json").read_text())[0]
    assert experiment.classroom == LESSON and experiment.train.learning_rate == 0.03


def test_opening_an_ordinary_file_after_a_class_file_leaves_class_mode(
    lesson, monkeypatch, tmp_path
):
    plain = tmp_path / "plain.json"
    plain.write_text(dump_experiment(SMALL))
    assert lesson.open_experiment(plain)
    assert lesson.class_mode.classroom is None and lesson.controls.loss.isEnabled()
    assert shown(lesson, lesson.data_panel) and lesson.inside.maths_action.isVisible()


def test_a_bad_classroom_section_gets_a_dialog_naming_the_file(window, monkeypatch, tmp_path):
    path = tmp_path / "lesson.json"
    path.write_text(
        dump_experiment(SMALL)[:-2] + ',\n  "classroom": {"controls": {"netwrok": "lock"}}\n}\n'
    )
    shown_text = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: shown_text.append(a[2]))
    before = window.experiment
    assert not window.open_experiment(path)
    assert "lesson.json" in shown_text[0]
    assert "unknown panel or control 'netwrok' (did you mean 'network'" in shown_text[0]
    assert window.experiment == before and window.class_mode.classroom is None


def test_the_class_example_opens_in_class_mode(window):
    action = next(
        a
        for a in window.findChildren(type(window.open_action))
        if a.objectName() == "example_10-lesson-find-a-good-learning-rate"
    )
    action.trigger()
    assert window.class_mode.classroom is not None and window.file_path is None
    assert window.controls.learning_rate.isEnabled() and not window.controls.loss.isEnabled()
    assert not window.builder.view.isEnabled() and window.session is not None


# -- the command line -------------------------------------------------------------------------


def test_the_open_flag_honours_the_class_file(qtbot, tmp_path):
    path = class_file(tmp_path)
    args, experiment = parse_args(["--open", str(path)])
    assert experiment.classroom == LESSON
    # a flag on top keeps the classroom (the teacher's command line)
    _, tuned = parse_args(["--open", str(path), "--lr", "0.03"])
    assert tuned.classroom == LESSON and tuned.train.learning_rate == 0.03
    win = make_window(qtbot, experiment, path=path)
    try:
        assert win.class_mode.classroom == LESSON and not win.data_panel.isVisibleTo(win)
        assert not win.controls.loss.isEnabled()
    finally:
        win.close()


def run_main(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    cmd = [sys.executable, str(ROOT / "main.py"), *argv]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, cwd=cwd)


def test_a_class_file_trains_through_the_command_line_bit_for_bit_like_without_it(tmp_path):
    base = Experiment(
        data=DataSpec(points=400, noise=0.1, seed=3),
        train=TrainSpec(learning_rate=0.3, seed=7, max_epochs=15),
    )
    locked_all = Classroom.from_states({n: c.states[-1] for n, c in CONTROLS.items()})
    plain, lesson = tmp_path / "plain.json", tmp_path / "lesson.json"
    plain.write_text(dump_experiment(base))
    lesson.write_text(dump_experiment(base.replace(classroom=replace(locked_all, note="x"))))
    models = []
    for name, path in (("plain", plain), ("lesson", lesson)):
        model = tmp_path / f"{name}.safetensors"
        done = run_main(
            "--open", str(path), "--train", "--export", str(model), "--quit-when-done",
            cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        models.append(load_file(model))
    assert models[0].keys() == models[1].keys()
    assert all(torch.equal(models[0][k], models[1][k]) for k in models[0])
