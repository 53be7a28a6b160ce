"""The main window: training bar on top; data, network and plots side by side; File/Edit/View menus.

The window keeps the current ``Experiment`` (plain data) and rebuilds the ``Session`` whenever
the network, the data or the loss changes (the status bar says the weights were reset). Other
training settings reach the running session between epochs. torch and minidl are imported only
when the first session is built, after the window is on screen.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..experiment import Experiment, ExperimentError, TrainSpec
from ..worker import TrainingController
from .data_panel import DataPanel
from .icons import RESOURCES, icon
from .network_builder import NetworkBuilder
from .plots import PlotsPanel
from .training_controls import TrainingControls

__all__ = ["MainWindow"]

MODEL_FILTER = "minidl model (*.safetensors);;All files (*)"
EXPERIMENT_FILTER = "Playground experiment (*.json);;All files (*)"


def _points_key(experiment: Experiment) -> tuple:
    """What decides the points themselves (features and scaling do not move them)."""
    d = experiment.data
    return (d.dataset, d.points, d.test_fraction, d.noise, d.seed)


class MainWindow(QMainWindow):
    """The playground's window. ``session_rebuilt`` fires after each new session is running."""

    session_rebuilt = Signal()

    def __init__(
        self,
        experiment: Experiment | None = None,
        *,
        build_now: bool = True,
        settings: QSettings | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("main_window")
        self.setWindowTitle("minidl playground")
        self.setWindowIcon(icon("app"))
        self.experiment = experiment or Experiment()
        self._settings = settings
        self._shown_points: tuple | None = None
        self._updating = False
        self.last_snapshot: Any = None

        self.undo_stack = QUndoStack(self)
        self.controller = TrainingController(self)
        self.controls = TrainingControls(self)
        self.data_panel = DataPanel(self)
        self.builder = NetworkBuilder(self.undo_stack, self)
        self.plots = PlotsPanel(self)

        self.controls.set_spec(self.experiment.train)
        self.data_panel.set_spec(self.experiment.data)
        self.builder.model.set_layers_without_undo(list(self.experiment.network.layers))
        self._update_builder_context()

        network_column = QWidget(self)
        column = QVBoxLayout(network_column)
        column.setContentsMargins(6, 0, 6, 0)
        column.addWidget(QLabel("<b>Network</b>", network_column))
        column.addWidget(self.builder, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.setObjectName("columns")
        splitter.addWidget(self.data_panel)
        splitter.addWidget(network_column)
        splitter.addWidget(self.plots)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setStretchFactor(2, 2)
        splitter.setSizes([230, 430, 840])
        splitter.setChildrenCollapsible(False)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.controls)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)
        self.resize(1500, 900)

        self._make_menus()
        self.controls.play_action.triggered.connect(self.toggle_play)
        self.controls.step_action.triggered.connect(self.step)
        self.controls.reset_action.triggered.connect(self.reset_weights)
        self.controls.spec_changed.connect(self._on_train_changed)
        self.data_panel.spec_changed.connect(self._on_data_changed)
        self.builder.model.network_changed.connect(self._on_network_changed)
        self.controller.snapshot.connect(self._on_snapshot)
        self.controller.stopped.connect(self._on_stopped)
        self.controller.playing_changed.connect(self.controls.set_playing)
        self.controls.set_trainable(False)
        self._restore_settings()
        if build_now:
            self.rebuild_session("Ready: press Play (Space) to train.")

    # -- menus ------------------------------------------------------------------------------

    def _action(self, name: str, text: str, tip: str, shortcut: Any = None) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        return action

    def _make_menus(self) -> None:
        bar = self.menuBar()
        self.import_action = self._action(
            "import_model",
            "&Import Model…",
            "Load a .safetensors model into the builder (Ctrl+I)",
            "Ctrl+I",
        )
        self.import_action.triggered.connect(lambda: self.import_model())  # not (checked)
        self.export_action = self._action(
            "export_model",
            "&Export Model…",
            "Write the trained model to a .safetensors file that takes raw (x1, x2) (Ctrl+E)",
            "Ctrl+E",
        )
        self.export_action.triggered.connect(lambda: self.export_model())  # not (checked)
        self.quit_action = self._action(
            "quit", "&Quit", "Close the playground", QKeySequence.StandardKey.Quit
        )
        if self.quit_action.shortcut().isEmpty():  # platforms without a standard Quit key
            self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.triggered.connect(self.close)
        self.open_action = self._action(
            "open_experiment",
            "&Open Experiment…",
            "Open an experiment file: network, data and training settings",
            QKeySequence.StandardKey.Open,
        )
        self.open_action.triggered.connect(lambda: self.open_experiment())
        self.save_action = self._action(
            "save_experiment",
            "&Save Experiment…",
            "Save the network, data and training settings as a JSON experiment file",
            QKeySequence.StandardKey.Save,
        )
        self.save_action.triggered.connect(lambda: self.save_experiment())
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.save_action)
        examples = file_menu.addMenu("E&xamples")
        examples.menuAction().setObjectName("examples")
        examples.menuAction().setToolTip("Ready-made experiments")
        for path in sorted((RESOURCES / "examples").glob("*.json")):
            title = path.stem.split("-", 1)[-1].replace("-", " ").capitalize()
            action = self._action(f"example_{path.stem}", title, f"Open the example {path.name}")
            action.triggered.connect(lambda _=False, p=path: self.open_experiment(p))
            examples.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(self.import_action)
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setObjectName("undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.undo_action.setToolTip("Undo the last change to the network")
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setObjectName("redo")
        self.redo_action.setShortcut(QKeySequence.StandardKey.Redo)
        self.redo_action.setToolTip("Redo the change to the network just undone")
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.builder.view.remove_action)

        view_menu = bar.addMenu("&View")
        for action in (
            self.plots.show_test_action,
            self.plots.discretize_action,
            self.plots.log_scale_action,
        ):
            view_menu.addAction(action)

        train_menu = bar.addMenu("&Training")
        for action in (
            self.controls.play_action,
            self.controls.step_action,
            self.controls.reset_action,
        ):
            train_menu.addAction(action)

        help_menu = bar.addMenu("&Help")
        about = self._action("about", "&About", "About the minidl playground")
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About minidl playground",
            "<b>minidl playground</b><p>Build a network by dragging layers, train it live on "
            "2-D data with minidl, our own deep-learning engine on torch tensors, and watch "
            "the decision boundary move.</p>",
        )

    # -- sessions ---------------------------------------------------------------------------

    @property
    def session(self) -> Any:
        """The current Session, or None while the experiment cannot train."""
        return self.controller.session

    def status(self, message: str) -> None:
        """Show ``message`` in the status bar."""
        self.statusBar().showMessage(message)

    def _update_builder_context(self) -> None:
        exp = self.experiment
        self.builder.set_context(exp.data.features, exp.train.loss, exp.out_width)

    def rebuild_session(self, message: str, weights: dict | None = None) -> bool:
        """Build a new Session from the experiment (fresh or given weights) and hand it over.

        Returns False, with the problems on screen, when the experiment cannot train.
        """
        was_playing = self.controller.is_playing
        self.controller.forget_session()
        problems = self.experiment.problems()
        network_problems = set(self.experiment.network.problems(self.experiment.train.loss))
        self.builder.set_extra_problems([p for p in problems if p not in network_problems])
        if problems:
            self.controls.set_playing(False)
            self.controls.set_trainable(False)
            self.status(f"Cannot train yet: {problems[0]}")
            return False
        if "torch" not in sys.modules:
            self.status("Loading minidl and torch…")
            self.statusBar().repaint()
        from ..session import Session  # torch loads here, after the window is up

        try:
            session = Session(self.experiment)
            if weights is not None:
                session.load_raw_state(weights)
        except (ExperimentError, ValueError, KeyError) as e:
            self.controls.set_trainable(False)
            self.status(f"Cannot train: {e}")
            return False
        if _points_key(self.experiment) != self._shown_points:
            self.plots.set_dataset(session.data_arrays())
            self._shown_points = _points_key(self.experiment)
        self.plots.clear_history()
        self._on_snapshot(session.snapshot())
        self.controller.start(session)
        self.controls.set_trainable(True)
        self.controls.set_playing(False)
        self.status(message)
        self.session_rebuilt.emit()
        if was_playing:
            self.controller.play()
        return True

    @Slot()
    def _on_network_changed(self) -> None:
        self.experiment = self.experiment.replace(network=self.builder.model.network())
        self.builder.refresh()
        if not self._updating:
            self.rebuild_session("Network changed: the weights were reset.")

    @Slot(object)
    def _on_data_changed(self, spec: Any) -> None:
        old = self.experiment.data
        self.experiment = self.experiment.replace(data=spec)
        self._update_builder_context()
        if self._updating:
            return
        if spec.features != old.features or spec.standardize != old.standardize:
            self.rebuild_session("Input features changed: the weights were reset.")
        else:
            self.rebuild_session("Data changed: new points, the weights were reset.")

    @Slot(object)
    def _on_train_changed(self, spec: TrainSpec) -> None:
        old = self.experiment.train
        self.experiment = self.experiment.replace(train=spec)
        if self._updating:
            return
        if spec.loss != old.loss:
            self._update_builder_context()
            self.rebuild_session(
                f"Loss changed to {self.controls.loss.currentText().lower()}: "
                "the weights were reset."
            )
            return
        if self.session is None:
            self.rebuild_session("Settings changed.")
            return
        self.controller.apply_training(spec)
        changes = []
        if spec.learning_rate != old.learning_rate:
            changes.append(f"learning rate {spec.learning_rate:g}")
        if spec.batch_size != old.batch_size:
            changes.append(f"batch size {spec.batch_size}")
        if spec.weight_decay != old.weight_decay:
            changes.append(f"L2 decay {spec.weight_decay:g}")
        if spec.optimizer != old.optimizer:
            changes.append(f"optimizer {self.controls.optimizer.currentText()} (fresh state)")
        self.status("Now training with " + ", ".join(changes) + ".")

    # -- training ---------------------------------------------------------------------------

    @Slot()
    def toggle_play(self) -> None:
        """Play if paused, pause if playing."""
        if self.controller.is_playing:
            self.controller.pause()
            self.status("Paused.")
            return
        if self.session is None and not self.rebuild_session("Training."):
            return
        self.controller.play()
        self.status("Training…")

    @Slot()
    def step(self) -> None:
        """Train one epoch."""
        if self.controller.is_playing:
            return
        if self.session is None and not self.rebuild_session("Stepping."):
            return
        self.controller.step()

    @Slot()
    def reset_weights(self) -> None:
        """Start again with new random weights (the next seed)."""
        train = self.experiment.train
        new = replace(train, seed=train.seed + 1)
        self.experiment = self.experiment.replace(train=new)
        self.controls.set_spec(new)
        self.rebuild_session(f"Reset: new random weights (seed {new.seed}).")

    @Slot(object)
    def _on_snapshot(self, snap: Any) -> None:
        self.last_snapshot = snap
        self.plots.show_snapshot(snap)
        self.controls.show_progress(
            snap.epoch, snap.steps_per_second, snap.test_loss, snap.test_accuracy
        )

    @Slot(str)
    def _on_stopped(self, reason: str) -> None:
        self.controls.set_playing(False)
        self.status(f"Paused: {reason}.")

    # -- model files ------------------------------------------------------------------------

    def export_model(self, path: str | os.PathLike | None = None) -> bool:
        """Write the model to a .safetensors file (asking where when no path is given)."""
        if self.session is None:
            self.status("Nothing to export: the network cannot be built yet.")
            return False
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Export Model", str(Path.cwd() / "model.safetensors"), MODEL_FILTER
            )
            if not path:
                return False
            if not Path(path).suffix:
                path = f"{path}.safetensors"
        from minidl import ModelFileError

        try:
            with self.controller.locked_session() as session:
                session.save_model(path)
                epoch = session.epoch
        except (ModelFileError, OSError) as e:
            QMessageBox.warning(self, "Export Model", f"Could not export the model.\n\n{e}")
            return False
        self.status(f"Exported the model (epoch {epoch}) to {path}.")
        return True

    def import_model(self, path: str | os.PathLike | None = None) -> bool:
        """Load a .safetensors model into the builder with its weights (asking which file)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Import Model", str(Path.cwd()), MODEL_FILTER
            )
            if not path:
                return False
        from minidl import ModelFileError

        from ..session import experiment_with_model, read_model

        try:
            imported = read_model(path, self.experiment.train.loss)
        except ModelFileError as e:
            QMessageBox.critical(
                self,
                "Import Model",
                f"Could not import {e.path}:\n\n{e.problem}",
            )
            self.status(f"Import failed: {e}")
            return False
        experiment = experiment_with_model(self.experiment, imported)
        self.set_experiment(experiment, f"Import {Path(path).name}")
        return self.rebuild_session(
            f"Imported {Path(path).name} with its weights.", weights=imported.state
        )

    # -- experiment files -------------------------------------------------------------------

    def save_experiment(self, path: str | os.PathLike | None = None) -> bool:
        """Write the experiment (network, data, training settings) as JSON, atomically."""
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Save Experiment", str(Path.cwd() / "experiment.json"), EXPERIMENT_FILTER
            )
            if not path:
                return False
            if not Path(path).suffix:
                path = f"{path}.json"
        from minidl.io import atomic_write

        try:
            with atomic_write(path, suffix=".json") as tmp:
                tmp.write_text(self.experiment.to_json(), encoding="utf-8")
        except OSError as e:
            QMessageBox.warning(
                self, "Save Experiment", f"Could not save {path}:\n\n{e.strerror or e}"
            )
            return False
        self.status(f"Saved the experiment to {path}.")
        return True

    def open_experiment(self, path: str | os.PathLike | None = None) -> bool:
        """Read an experiment file and set everything up from it (fresh weights)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Open Experiment", str(Path.cwd()), EXPERIMENT_FILTER
            )
            if not path:
                return False
        try:
            experiment = Experiment.from_json(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ExperimentError) as e:
            problem = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            if isinstance(e, UnicodeDecodeError):
                problem = "not a text file"
            QMessageBox.critical(self, "Open Experiment", f"Could not open {path}:\n\n{problem}")
            self.status(f"Open failed: {path}: {problem}")
            return False
        self.set_experiment(experiment, f"Open {Path(path).name}")
        return self.rebuild_session(f"Opened {Path(path).name}: press Play (Space) to train.")

    def set_experiment(self, experiment: Experiment, undo_text: str) -> None:
        """Show ``experiment`` in every panel (the stack change is one undoable step)."""
        self.controller.pause()
        self._updating = True
        try:
            self.experiment = experiment
            self.data_panel.set_spec(experiment.data)
            self.controls.set_spec(experiment.train)
            self._update_builder_context()
            if list(experiment.network.layers) != self.builder.model.layers():
                self.builder.model.replace_layers(list(experiment.network.layers), undo_text)
        finally:
            self._updating = False
        self.experiment = experiment

    # -- window -----------------------------------------------------------------------------

    def _restore_settings(self) -> None:
        if self._settings is None:
            return
        geometry = self._settings.value("main_window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.controller.shutdown()
        if self._settings is not None:
            self._settings.setValue("main_window/geometry", self.saveGeometry())
        super().closeEvent(event)
