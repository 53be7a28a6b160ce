"""Desktop conventions: unsaved-changes prompts, atomic saves, recent files and QSettings,
Export Plot, tooltips everywhere, keyboard navigation, a dark palette. Dialogs are patched."""

from __future__ import annotations

import json
import pathlib

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QImage, QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFileDialog,
    QMessageBox,
)

from playground.experiment import DataSpec, Experiment, load_experiment
from playground.widgets.main_window import MainWindow
from playground.widgets.theme import dark_palette

Button = QMessageBox.StandardButton


@pytest.fixture
def settings(tmp_path) -> QSettings:
    """QSettings in a temporary INI file: never the user's real configuration."""
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings):
    win = MainWindow(Experiment(data=DataSpec(points=100)), settings=settings)
    qtbot.addWidget(win)
    yield win
    win.ask_before_closing = False
    win.close()


def answer(monkeypatch, button) -> list:
    asked: list = []

    def question(*args, **kwargs):
        asked.append(args[2])
        return button

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


def test_unsaved_changes_prompt_on_close_save_discard_cancel(window, monkeypatch, tmp_path, qtbot):
    assert not window.isWindowModified()
    window.data_panel.noise.setValue(10)
    assert window.isWindowModified() and window.windowTitle().startswith("Untitled[*]")

    asked = answer(monkeypatch, Button.Cancel)
    assert not window.close() and window.isVisible() is False or window.is_modified()
    assert len(asked) == 1 and "Save the changes" in asked[0]
    assert window.session is not None  # still there, still training-ready

    answer(monkeypatch, Button.Save)
    path = tmp_path / "saved.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    assert window.close()
    assert load_experiment(path.read_text())[0].data.noise == 0.1


def test_discard_closes_without_saving(qtbot, settings, monkeypatch, tmp_path):
    win = MainWindow(Experiment(data=DataSpec(points=100)), settings=settings)
    qtbot.addWidget(win)
    win.data_panel.noise.setValue(10)
    answer(monkeypatch, Button.Discard)
    assert win.close()
    assert list(tmp_path.glob("*.json")) == []


def test_open_new_and_examples_ask_first(window, monkeypatch, tmp_path):
    window.data_panel.noise.setValue(10)
    asked = answer(monkeypatch, Button.Cancel)
    example = next(a for a in window.findChildren(QAction) if a.objectName().startswith("example_"))
    example.trigger()
    window.new_action.trigger()
    assert not window.open_experiment(tmp_path / "whatever.json")
    assert len(asked) == 3 and window.experiment.data.noise == 0.1
    answer(monkeypatch, Button.Discard)
    assert window.new_experiment() and window.experiment == Experiment()
    assert not window.isWindowModified()


def test_save_writes_to_its_file_save_as_asks(window, monkeypatch, tmp_path):
    first = tmp_path / "first.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(first), ""))
    window.save_action.trigger()
    assert window.windowTitle().startswith("first.json")
    window.data_panel.noise.setValue(20)
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: pytest.fail("Save asked for a name")
    )
    window.save_action.trigger()  # to first.json, no dialog
    assert json.loads(first.read_text())["data"]["noise"] == 0.2
    second = tmp_path / "second"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(second), ""))
    window.save_as_action.trigger()
    assert (tmp_path / "second.json").exists() and window.file_path.name == "second.json"


def test_weights_are_saved_when_asked_and_reopen(window, qtbot, settings, tmp_path):
    window.include_weights_action.setChecked(True)
    window.session.step(2)
    path = tmp_path / "trained.json"
    assert window.save_experiment(path)
    experiment, weights = load_experiment(path.read_text())
    assert weights is not None and weights.epoch == 2
    other = MainWindow(settings=settings)
    qtbot.addWidget(other)
    other.ask_before_closing = False
    try:
        assert other.open_experiment(path)
        assert other.session.epoch == 2 and "with its weights" in other.statusBar().currentMessage()
        for key, value in window.session.model.state_dict().items():
            assert (other.session.model.state_dict()[key] == value).all()
    finally:
        other.close()


@pytest.mark.parametrize("what", ["experiment", "points", "plot", "model"])
def test_a_failure_mid_write_leaves_the_old_file_intact(window, monkeypatch, tmp_path, what):
    suffix = {"experiment": ".json", "points": ".csv", "plot": ".png", "model": ".safetensors"}
    path = tmp_path / f"old{suffix[what]}"
    path.write_bytes(b"the old contents")
    real_write_text, real_save = pathlib.Path.write_text, QImage.save

    def crash_mid_write(self, text, *args, **kwargs):
        real_write_text(self, text[: len(text) // 2], *args, **kwargs)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pathlib.Path, "write_text", crash_mid_write)

    def crash_png(picture, name, *args):  # the half-written picture, then the failure
        pathlib.Path(name).write_bytes(b"\x89PNG half")
        return False

    monkeypatch.setattr(type(window.plots.picture()), "save", crash_png)
    import safetensors.torch

    def crash_model(tensors, name, metadata=None):
        pathlib.Path(name).write_bytes(b"half a model")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", crash_model)
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    save = {
        "experiment": window.save_experiment,
        "points": window.export_points,
        "plot": window.export_plot,
        "model": window.export_model,
    }[what]
    assert not save(str(path))
    assert path.read_bytes() == b"the old contents"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    assert len(shown) == 1 and str(path) in shown[0] or "Could not" in shown[0]
    del real_save


def test_export_plot_writes_a_png(window, monkeypatch, tmp_path):
    path = tmp_path / "plots"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    window.export_plot_action.trigger()
    image = QImage(str(tmp_path / "plots.png"))
    assert image.width() > 200 and image.height() > 200


def test_recent_files_and_preferences_live_in_the_given_qsettings(
    qtbot, settings, tmp_path, monkeypatch
):
    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    win.ask_before_closing = False
    win.show()
    qtbot.waitExposed(win)
    path = tmp_path / "a.json"
    win.save_experiment(path)
    win.plots.discretize_action.setChecked(True)
    win.include_weights_action.setChecked(True)
    win.close()
    geometry = settings.value("main_window/geometry")
    assert geometry is not None and settings.value("main_window/state") is not None
    restored = []
    monkeypatch.setattr(MainWindow, "restoreGeometry", lambda self, g: restored.append(g))

    again = MainWindow(settings=settings)
    qtbot.addWidget(again)
    again.ask_before_closing = False
    try:
        assert again.recent_files() == [str(path.resolve())]
        recent = again.recent_menu.actions()[0]
        assert recent.text() == "&1 a.json" and recent.toolTip() == str(path.resolve())
        assert again.plots.discretize_action.isChecked()
        assert again.include_weights_action.isChecked()
        assert restored == [geometry]  # (offscreen Qt clamps sizes, so compare the bytes)
        path.unlink()  # a recent file that is gone: a message, and it leaves the menu
        shown = []
        monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: shown.append(a[2]))
        recent.trigger()
        assert "no such file" in shown[0] and again.recent_files() == []
    finally:
        again.close()


def test_every_action_and_input_has_a_tooltip(window):
    for action in window.findChildren(QAction):
        if action.isSeparator() or not action.text() or action.menu() is not None:
            continue
        assert action.toolTip() and action.toolTip() != action.text().replace("&", ""), (
            action.text()
        )
    inputs = (QAbstractButton, QAbstractSpinBox, QComboBox, QAbstractItemView)
    for kind in inputs:
        for widget in window.findChildren(kind):
            if widget.objectName() in ("qt_scrollarea_viewport",) or not widget.isVisibleTo(window):
                continue
            if type(widget).__name__ in ("QTableCornerButton", "QHeaderView"):
                continue
            assert widget.toolTip(), f"{type(widget).__name__} {widget.objectName()!r}"
    assert window.plots.boundary.toolTip()


def test_menus_mnemonics_and_standard_shortcuts(window):
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus == ["&File", "&Edit", "&View", "&Training", "&Help"]
    keys = {a.objectName(): a.shortcut().toString() for a in window.findChildren(QAction)}
    assert keys["new_experiment"] == "Ctrl+N" and keys["open_experiment"] == "Ctrl+O"
    assert keys["save_experiment"] == "Ctrl+S" and keys["save_experiment_as"] == "Ctrl+Shift+S"
    assert keys["confusion"] == "Ctrl+M"
    for top in window.menuBar().actions():
        texts = [a.text() for a in top.menu().actions() if not a.isSeparator()]
        assert all("&" in t for t in texts), texts


def test_tab_goes_from_the_training_settings_through_the_data_to_the_network(window):
    c, d, b = window.controls, window.data_panel, window.builder
    order = [
        c.learning_rate,
        c.batch_size,
        c.weight_decay,
        c.optimizer,
        c.loss,
        d.dataset,
        d.points,
        d.seed,
        c.stop_epochs,
        c.max_epochs,
        b.palette_list,
        b.view,
    ]
    seen, widget = [], order[0]
    for _ in range(500):
        if widget in order and widget not in seen:
            seen.append(widget)
        widget = widget.nextInFocusChain()
    assert [w.objectName() for w in seen] == [w.objectName() for w in order]


def test_a_dark_palette_reaches_the_plots(window):
    app = QApplication.instance()
    old = app.palette()
    try:
        app.setPalette(dark_palette())
        QApplication.processEvents()
        base = dark_palette().color(QPalette.ColorRole.Base)
        text = dark_palette().color(QPalette.ColorRole.Text)
        boundary = window.plots.boundary
        assert boundary.backgroundBrush().color() == base
        axis = boundary.getPlotItem().getAxis("left")
        assert axis.textPen().color() == text
        assert window.plots.loss.train_curve.opts["pen"].color() == text
        window.grab()
    finally:
        app.setPalette(old)


def test_about_box(window, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "about", lambda *a, **k: shown.append(a[2]))
    next(a for a in window.findChildren(QAction) if a.objectName() == "about").trigger()
    assert "minidl playground" in shown[0] and "Ctrl+click" in shown[0]
