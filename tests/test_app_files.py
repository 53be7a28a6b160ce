"""File > Export Model… and Import Model… in the window, with dialogs monkeypatched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

import minidl
from playground.widgets.main_window import MainWindow


@pytest.fixture
def window(qtbot):
    win = MainWindow()
    win.ask_before_closing = False
    qtbot.addWidget(win)
    yield win
    win.close()


def test_export_then_import_restores_stack_and_weights(window, qtbot, monkeypatch, tmp_path):
    window.data_panel.feature_boxes["x1*x2"].setChecked(True)
    window.builder.model.edit_layer(0, window.builder.model.layer(0).with_value(12))
    window.session.step(5)
    path = tmp_path / "trained.safetensors"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    window.export_action.trigger()
    assert path.exists() and "Exported" in window.statusBar().currentMessage()
    exported = minidl.load(path)
    assert isinstance(exported[0], minidl.nn.Features)
    points = np.random.default_rng(1).random((50, 2)).astype(np.float32)
    expected = window.session.predict_points(points)

    other = MainWindow()

    other.ask_before_closing = False
    qtbot.addWidget(other)
    try:
        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
        other.import_action.trigger()
        assert other.experiment.network == window.experiment.network
        assert other.experiment.data.features == ("x1", "x2", "x1*x2")
        assert other.data_panel.feature_boxes["x1*x2"].isChecked()
        np.testing.assert_allclose(other.session.predict_points(points), expected, atol=1e-5)
        assert "Imported trained.safetensors" in other.statusBar().currentMessage()
        other.undo_action.trigger()  # the import is one undoable step, features and all
        assert other.experiment == MainWindow().experiment
        assert not other.data_panel.feature_boxes["x1*x2"].isChecked()
        assert other.builder.model.network() == other.experiment.network
    finally:
        other.close()


@pytest.mark.parametrize("content", [b"", b"not a model at all", b"\x80\x04pickle"])
def test_bad_model_file_gets_a_dialog_and_the_app_carries_on(
    window, monkeypatch, tmp_path, content
):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(content)
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: shown.append(a[2]))
    before = window.experiment
    assert not window.import_model(str(path))
    assert len(shown) == 1 and "broken.safetensors" in shown[0]
    assert window.experiment == before and window.session is not None
    window.session.step()  # still trains


def test_missing_file_and_cancelled_dialogs(window, monkeypatch, tmp_path):
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: shown.append(a[2]))
    assert not window.import_model(str(tmp_path / "nope.safetensors"))
    assert "no such file" in shown[0]
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: ("", ""))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: ("", ""))
    assert not window.import_model() and not window.export_model()


def test_export_to_an_unwritable_place_gets_a_dialog(window, monkeypatch, tmp_path):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    assert not window.export_model(str(tmp_path / "missing-folder" / "m.safetensors"))
    assert "Could not export" in shown[0]


def test_save_then_open_experiment(window, qtbot, monkeypatch, tmp_path):
    path = tmp_path / "mine.json"
    window.data_panel.noise.setValue(20)
    window.builder.model.insert_layer(0, window.builder.model.layer(0))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    window.save_action.trigger()
    saved = window.experiment

    other = MainWindow()

    other.ask_before_closing = False
    qtbot.addWidget(other)
    try:
        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
        other.open_action.trigger()
        assert other.experiment == saved
        assert other.data_panel.noise.value() == 20
        assert (
            other.session is not None and "Opened mine.json" in other.statusBar().currentMessage()
        )
    finally:
        other.close()


def test_bad_experiment_file_gets_a_dialog(window, monkeypatch, tmp_path):
    path = tmp_path / "future.json"
    path.write_text('{"format": "minidl-playground-experiment", "version": 7}')
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: shown.append(a[2]))
    before = window.experiment
    assert not window.open_experiment(path)
    assert "future.json" in shown[0] and "newer playground" in shown[0]
    assert window.experiment == before and window.session is not None


EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "playground" / "resources" / "examples"


def test_every_example_opens_and_trains(window):
    actions = [
        a
        for a in window.findChildren(type(window.open_action))
        if a.objectName().startswith("example_")
    ]
    # one per file in resources/examples (the seeds', issue 13's regressions and classes, the
    # class lesson)
    assert len(actions) == len(list(EXAMPLES_DIR.glob("*.json"))) == 10
    titles = {a.text() for a in actions}
    assert {"Regression on the plane", "Three spiral arms"} <= titles
    for action in actions:
        action.trigger()
        assert window.session is not None, action.text()
        window.session.step()
