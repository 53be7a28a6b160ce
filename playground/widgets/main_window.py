"""The main window: training bar on top; data, network and plots side by side; the menus.

The window keeps the current ``Experiment`` (plain data) and rebuilds the ``Session`` whenever
the network, the data or the loss changes (the status bar says the weights were reset). Other
training settings reach the running session between epochs. torch and minidl are imported only
when the first session is built, after the window is on screen.

Edits to the network and to your points are undoable (Edit > Undo). The window knows the file
it came from and whether the setup changed since: the title shows a ``*`` and closing, New,
Open and the examples ask Save / Discard / Cancel first. Every file it writes is written
atomically (``playground.files``). Preferences (view toggles, whether experiments carry their
weights, recent files, the last folder, window geometry) live in the QSettings given to it.
"""

from __future__ import annotations

import gc
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..document import (
    MAX_RECENT,
    Action,
    Change,
    Document,
    Edit,
    ExperimentFileError,
    points_key,
    problem_text,
    read_experiment,
    recent_with,
    recent_without,
)
from ..experiment import (
    REGRESSION,
    DataSpec,
    Experiment,
    ExperimentError,
    LayerSpec,
    NetworkSpec,
    SavedWeights,
    TrainSpec,
)
from ..files import save_picture, write_text
from ..pointfile import PointsFileError, is_regression, points_to_csv, read_points_file
from ..pointset import PointSet, point_arrays
from ..worker import TrainingController
from .class_mode import ClassMode
from .confusion import ConfusionMatrixView
from .data_panel import DataPanel
from .icons import RESOURCES, icon
from .inside import InsideViews
from .network_builder import NetworkBuilder
from .notice import NoticeBar
from .plots import PlotsPanel
from .training_controls import TrainingControls

__all__ = ["MainWindow"]

APP_TITLE = "minidl playground"
MODEL_FILTER = "minidl model (*.safetensors);;All files (*)"
EXPERIMENT_FILTER = "Playground experiment (*.json);;All files (*)"
CSV_FILTER = "Points (*.csv);;All files (*)"
PNG_FILTER = "PNG image (*.png)"
REMOVE_RADIUS_PX = 15
"""Ctrl+click removes the nearest point only if it lies within this many pixels."""


class _DocumentEdit(QUndoCommand):
    """One undoable edit of the document: a layer added, moved, changed or removed, your
    points added, removed, imported or cleared, a model imported."""

    def __init__(self, window: MainWindow, edit: Edit):
        super().__init__(edit.text)
        self._window, self._edit = window, edit

    def redo(self) -> None:
        self._window._show_edit(self._edit.apply(self._window.document))

    def undo(self) -> None:
        self._window._show_edit(self._edit.revert(self._window.document))


class MainWindow(QMainWindow):
    """The playground's window. ``session_rebuilt`` fires after each new session is running."""

    session_rebuilt = Signal()

    @property
    def experiment(self) -> Experiment:
        """The current experiment (the document's)."""
        return self.document.experiment

    @property
    def file_path(self) -> Path | None:
        """The experiment's file (None while untitled)."""
        return self.document.path

    def __init__(
        self,
        experiment: Experiment | None = None,
        *,
        build_now: bool = True,
        settings: QSettings | None = None,
        weights: SavedWeights | None = None,
        path: str | os.PathLike | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("main_window")
        self.setWindowIcon(icon("app"))
        self.document = Document(experiment, path)
        """The application's state: the experiment, its file, clean or modified."""
        self._settings = settings
        self._shown_points: tuple | None = None
        self._updating = False
        self._arrays: Any = None
        self._pending_weights = weights
        self.last_snapshot: Any = None
        self._recent: list[str] = []
        self.ask_before_closing = True
        """Whether closing with unsaved changes asks first (a scripted run turns it off)."""

        self.undo_stack = QUndoStack(self)
        self.controller = TrainingController(self)
        self.controls = TrainingControls(self)
        self.data_panel = DataPanel(self)
        self.builder = NetworkBuilder(self.undo_stack, self)
        self.plots = PlotsPanel(self)
        self.notice = NoticeBar(self)
        self.confusion = ConfusionMatrixView(self)

        self.controls.set_spec(self.experiment.train)
        self.data_panel.set_spec(self.experiment.data)
        self.builder.model.set_layers_without_undo(list(self.experiment.network.layers))
        self.builder.model.editor = self._edit_network
        self._update_builder_context()

        left_column = QWidget(self)
        left = QVBoxLayout(left_column)
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.data_panel)
        left.addWidget(self.controls.stop_box)
        left.addStretch(1)
        network_column = QWidget(self)
        column = QVBoxLayout(network_column)
        column.setContentsMargins(6, 0, 6, 0)
        column.addWidget(QLabel("<b>Network</b>", network_column))
        column.addWidget(self.builder, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.setObjectName("columns")
        splitter.addWidget(left_column)
        splitter.addWidget(network_column)
        splitter.addWidget(self.plots)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setStretchFactor(2, 2)
        splitter.setSizes([230, 380, 700])
        splitter.setChildrenCollapsible(False)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.controls)
        layout.addWidget(self.notice)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)
        self.confusion_dock = QDockWidget("Confusion Matrix", self)
        self.confusion_dock.setObjectName("confusion_dock")
        self.confusion_dock.setWidget(self.confusion)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.confusion_dock)
        self.confusion_dock.hide()
        self.inside = InsideViews(self)
        """The network view and the maths and hidden-space docks (inside.py)."""
        self.resize(1560, 940)
        self.resizeDocks([self.inside.network_dock], [430], Qt.Orientation.Horizontal)
        self.class_mode = ClassMode(self)
        """What a class file shows, locks and hides; Save for Class, Leave Class Mode."""

        self._make_menus()
        self._set_tab_order()
        self.controls.play_action.triggered.connect(self.toggle_play)
        self.controls.step_action.triggered.connect(self.step)
        self.controls.reset_action.triggered.connect(self.reset_weights)
        self.controls.spec_changed.connect(self._on_train_changed)
        self.data_panel.spec_changed.connect(self._on_data_changed)
        self.plots.boundary.clicked.connect(self._on_plot_clicked)
        self.controller.snapshot.connect(self._on_snapshot)
        self.controller.stopped.connect(self._on_stopped)
        self.controller.diverged.connect(self._on_diverged)
        self.controller.playing_changed.connect(self.controls.set_playing)
        self.controller.playing_changed.connect(self.inside.set_playing)
        self.confusion.refresh_button.clicked.connect(self.refresh_confusion)
        self.confusion_dock.visibilityChanged.connect(self._on_confusion_visible)
        self.controls.set_trainable(False)
        self._restore_settings()
        self.class_mode.apply(self.experiment.classroom)
        self._update_title()
        if build_now:
            self.start()

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
        self.new_action = self._action(
            "new_experiment",
            "&New Experiment",
            "Start again from the default experiment: the seed network on the disk",
            QKeySequence.StandardKey.New,
        )
        self.new_action.triggered.connect(lambda: self.new_experiment())
        self.open_action = self._action(
            "open_experiment",
            "&Open Experiment…",
            "Open an experiment file: network, data, your points, training settings",
            QKeySequence.StandardKey.Open,
        )
        self.open_action.triggered.connect(lambda: self.open_experiment())
        self.save_action = self._action(
            "save_experiment",
            "&Save Experiment",
            "Save the network, data, your points and training settings as JSON",
            QKeySequence.StandardKey.Save,
        )
        self.save_action.triggered.connect(lambda: self.save_experiment())
        self.save_as_action = self._action(
            "save_experiment_as",
            "Save Experiment &As…",
            "Save the experiment under a new name",
            QKeySequence.StandardKey.SaveAs,
        )
        if self.save_as_action.shortcut().isEmpty():
            self.save_as_action.setShortcut(QKeySequence("Ctrl+Shift+S"))
        self.save_as_action.triggered.connect(lambda: self.save_experiment(ask=True))
        self.include_weights_action = self._action(
            "include_weights",
            "Include Trained &Weights",
            "Also store the trained weights in saved experiments (opening one continues from them)",
        )
        self.include_weights_action.setCheckable(True)
        self.include_weights_action.toggled.connect(lambda _=False: self._update_title())
        self.import_points_action = self._action(
            "import_points",
            "Import &Points…",
            "Train on the points of a CSV file (x1, x2, label[, split]): the Custom dataset",
        )
        self.import_points_action.triggered.connect(lambda: self.import_points())
        self.export_points_action = self._action(
            "export_points",
            "Export P&oints…",
            "Write the current points (generated and yours) to a CSV file",
        )
        self.export_points_action.triggered.connect(lambda: self.export_points())
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
            "Write the trained model, taking raw (x1, x2): minidl's .safetensors, ONNX or "
            "PyTorch code (Ctrl+E)",
            "Ctrl+E",
        )
        self.export_action.triggered.connect(lambda: self.export_model())  # not (checked)
        self.export_plot_action = self._action(
            "export_plot",
            "Export P&lot…",
            "Save the decision boundary and the curves as a PNG image",
            "Ctrl+Shift+P",
        )
        self.export_plot_action.triggered.connect(lambda: self.export_plot())
        self.quit_action = self._action(
            "quit", "&Quit", "Close the playground", QKeySequence.StandardKey.Quit
        )
        if self.quit_action.shortcut().isEmpty():  # platforms without a standard Quit key
            self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.triggered.connect(self.close)

        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.new_action)
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.menuAction().setObjectName("open_recent")
        self.recent_menu.menuAction().setToolTip("Experiments opened or saved lately")
        examples = file_menu.addMenu("E&xamples")
        examples.menuAction().setObjectName("examples")
        examples.menuAction().setToolTip("Ready-made experiments")
        numbered = (RESOURCES / "examples").glob("*.json")  # "10-…" after "9-…"
        for path in sorted(numbered, key=lambda p: (len(p.stem.split("-")[0]), p.stem)):
            title = path.stem.split("-", 1)[-1].replace("-", " ").capitalize()
            action = self._action(f"example_{path.stem}", title, f"Open the example {path.name}")
            action.triggered.connect(lambda _=False, p=path: self.open_experiment(p, example=True))
            examples.addAction(action)
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.save_as_action)
        file_menu.addAction(self.include_weights_action)
        file_menu.addAction(self.class_mode.save_action)
        file_menu.addSeparator()
        file_menu.addAction(self.import_points_action)
        file_menu.addAction(self.export_points_action)
        file_menu.addAction(self.import_action)
        file_menu.addAction(self.export_action)
        file_menu.addAction(self.export_plot_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setObjectName("undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.undo_action.setToolTip("Undo the last edit of the network or of your points")
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setObjectName("redo")
        self.redo_action.setShortcut(QKeySequence.StandardKey.Redo)
        self.redo_action.setToolTip("Redo the edit just undone")
        self.clear_points_action = self._action(
            "clear_points", "&Clear Your Points", "Remove every point you added or imported"
        )
        self.clear_points_action.triggered.connect(self.clear_points)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.builder.view.remove_action)
        edit_menu.addAction(self.clear_points_action)

        self.confusion_action = self.confusion_dock.toggleViewAction()
        self.confusion_action.setText("&Confusion Matrix")
        self.confusion_action.setObjectName("confusion")
        self.confusion_action.setShortcut(QKeySequence("Ctrl+M"))
        self.confusion_action.setToolTip("Show the test set's confusion matrix (Ctrl+M)")
        view_menu = bar.addMenu("&View")
        for action in (
            self.plots.show_test_action,
            self.plots.discretize_action,
            self.plots.log_scale_action,
        ):
            view_menu.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(self.confusion_action)
        for action in self.inside.actions():
            view_menu.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(self.class_mode.leave_action)

        train_menu = bar.addMenu("&Training")
        for action in (
            self.controls.play_action,
            self.controls.step_action,
            self.controls.reset_action,
        ):
            train_menu.addAction(action)
        train_menu.addSeparator()
        from .compare_menu import compare_actions

        for action in compare_actions(self):
            train_menu.addAction(action)

        help_menu = bar.addMenu("&Help")
        about = self._action("about", "&About", "About the minidl playground")
        about.triggered.connect(self._about)
        about_qt = self._action("about_qt", "About &Qt", "The Qt version the playground uses")
        about_qt.triggered.connect(QApplication.aboutQt)
        help_menu.addAction(about)
        help_menu.addAction(about_qt)
        self._rebuild_recent_menu()

    def _set_tab_order(self) -> None:
        c, d, b = self.controls, self.data_panel, self.builder
        buttons = [c.findChild(QWidget, f"{n}_button") for n in ("reset", "play", "step")]
        chain = [
            *buttons,
            c.learning_rate,
            c.batch_size,
            c.weight_decay,
            c.optimizer,
            c.loss,
            d.dataset,
            d.points,
            d.test_percent,
            d.noise,
            d.seed,
            d.regenerate,
            *d.feature_boxes.values(),
            d.standardize,
            c.stop_epochs,
            c.max_epochs,
            c.stop_loss,
            c.target_loss,
            c.stop_patience,
            c.patience,
            b.palette_list,
            b.view,
            *self.plots.findChildren(type(d.standardize)),
        ]
        chain = [w for w in chain if w is not None]
        for first, second in zip(chain, chain[1:], strict=False):
            QWidget.setTabOrder(first, second)

    def _about(self) -> None:
        import PySide6

        QMessageBox.about(
            self,
            f"About {APP_TITLE}",
            f"<b>{APP_TITLE}</b><p>Build a network by dragging layers, train it live on "
            "2-D data with minidl, our own deep-learning engine on torch tensors, and watch "
            "the decision boundary move.</p>"
            "<p><b>On the plot</b>: click adds a point of class 1, Shift+click one of class 0, "
            "Ctrl+click removes the nearest point.<br><b>Keys</b>: Space plays and pauses, "
            "F10 steps one epoch, Ctrl+R resets the weights, Ctrl+M shows the confusion "
            "matrix.</p>"
            f"<p>PySide6 {PySide6.__version__}, Python {sys.version.split()[0]}.</p>",
        )

    # -- sessions ---------------------------------------------------------------------------

    def start(self) -> bool:
        """Build the first session (with the weights the window was opened with, if any)."""
        weights, self._pending_weights = self._pending_weights, None
        name = self.file_path.name if self.file_path is not None else None
        if weights is not None:
            message = f"Opened {name} with its weights (epoch {weights.epoch}): press Play."
        elif name is not None:
            message = f"Opened {name}: press Play (Space) to train."
        else:
            message = "Ready: press Play (Space) to train."
        built = self.rebuild_session(message, saved=weights)
        if built:
            _freeze_startup_objects()
        if self.file_path is not None:
            self._add_recent(self.file_path)
        self._mark_clean()
        return built

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
        self.controls.set_regression(exp.task == REGRESSION)

    def rebuild_session(
        self,
        message: str,
        weights: dict | None = None,
        saved: SavedWeights | None = None,
    ) -> bool:
        """Build a new Session from the experiment (fresh or given weights) and hand it over.

        ``weights`` are an imported model's (for raw features), ``saved`` an experiment file's.
        Returns False, with the problems on screen, when the experiment cannot train.
        """
        was_playing = self.controller.is_playing
        self.controller.forget_session()
        self.document.built = False
        self._update_title()
        problems = self.experiment.problems()
        network_problems = set(self.experiment.network.problems(self.experiment.train.loss))
        self.builder.set_extra_problems([p for p in problems if p not in network_problems])
        if problems:
            self.controls.set_playing(False)
            self.controls.set_trainable(False)
            self.status(f"Cannot train yet: {problems[0]}")
            self._show_points_without_session()
            return False
        if "torch" not in sys.modules:
            self.status("Loading minidl and torch…")
            self.statusBar().repaint()
        import torch  # torch loads here, after the window is up

        from ..session import Session

        # the window's own predictions (the grid, hovering) are small: one thread, and the
        # worker process keeps the other core to itself
        torch.set_num_threads(1)

        try:
            session = Session(self.experiment)
            if weights is not None:
                session.load_raw_state(weights)
            if saved is not None:
                session.load_weights(saved)
        except (ExperimentError, ValueError, KeyError) as e:
            self.controls.set_trainable(False)
            self.status(f"Cannot train: {e}")
            return False
        if points_key(self.experiment) != self._shown_points:
            self._arrays = session.data_arrays()
            self.plots.set_dataset(self._arrays)
            self._shown_points = points_key(self.experiment)
        self.plots.gradients.set_labels(session.norm_labels)
        self.plots.clear_history()
        self._on_snapshot(session.snapshot())
        self.controller.start(session)
        self.document.new_weights()
        self.inside.rebuilt()
        self.document.built = True
        self.controls.set_trainable(True)
        self.controls.set_playing(False)
        self.status(message)
        self.session_rebuilt.emit()
        if self.confusion_dock.isVisible():
            self.refresh_confusion()
        if was_playing:
            self.controller.play()
        return True

    def _show_points_without_session(self) -> None:
        """Keep the plot true to the data when no session can be built (e.g. no points yet)."""
        import numpy as np

        from ..session import DataArrays

        data = self.experiment.data
        if not data.is_custom or points_key(self.experiment) == self._shown_points:
            return
        regression = data.task == REGRESSION
        valid = data.added
        if not isinstance(valid, PointSet):  # a PointSet's rows are all valid
            valid = tuple(
                p
                for p in data.added
                if p.problem() is None and p.label_problem(data.task, data.classes) is None
            )
        xy, labels, test = point_arrays(valid, regression=regression)
        xy = xy.astype(np.float32)
        labels = labels.astype(np.float32 if regression else np.int64)
        ids = -1 - np.arange(len(labels))
        self._arrays = DataArrays(
            xy[~test],
            labels[~test],
            xy[test],
            labels[test],
            data.plot_domain(),
            ids[~test],
            ids[test],
            data.n_classes,
        )
        self.plots.set_dataset(self._arrays)
        self._shown_points = points_key(self.experiment)

    @Slot(object)
    def _on_data_changed(self, spec: DataSpec) -> None:
        if self.class_mode.refuses(self.experiment.replace(data=spec)):
            return
        change = self.document.change(self.experiment.replace(data=spec))
        self._update_builder_context()
        self._act_on(change)

    @Slot(object)
    def _on_train_changed(self, spec: TrainSpec) -> None:
        if self.class_mode.refuses(self.experiment.replace(train=spec)):
            return
        change = self.document.change(self.experiment.replace(train=spec))
        self._update_title()
        if change.rebuild:
            self._update_builder_context()
        self._act_on(change)

    def _act_on(self, change: Change) -> None:
        """Do what a change of the experiment asks: a new session, or the settings live."""
        if self._updating:
            return
        if change.action is Action.REBUILD:
            self.rebuild_session(change.message)
        elif change.action is Action.APPLY_TRAINING:
            self.controller.apply_training(self.experiment.train)
            self.status(change.message)

    # -- undoable edits of the document ----------------------------------------------------------

    def _edit(self, part: str, new: Any, text: str, done: str) -> bool:
        """Change ``part`` of the experiment as one undoable step (it resets the weights);
        False when a class file refuses it."""
        whole = new if part == "experiment" else self.experiment.replace(**{part: new})
        if self.class_mode.refuses(whole):
            return False
        edit = self.document.edit(part, new, text, done)
        if edit is not None:
            self.undo_stack.push(_DocumentEdit(self, edit))
        return True

    def _edit_network(self, layers: list[LayerSpec], text: str) -> None:
        """The builder's editor: a layer added, moved, changed or removed is a document edit."""
        self._edit("network", NetworkSpec(tuple(layers)), text, f"{text}: the weights were reset.")

    def _edit_data(self, spec: DataSpec, text: str, done: str) -> None:
        """Change the data as one undoable step (it resets the weights, like any data change)."""
        self._edit("data", spec, text, done)

    def _show_edit(self, change: Change) -> None:
        """Show the document after an edit was applied or reverted, and act on it."""
        self._show_experiment()
        self._act_on(change)

    def _show_experiment(self) -> None:
        """Show the document's experiment in every panel (without acting on the change)."""
        self._updating = True
        try:
            self.data_panel.set_spec(self.experiment.data)
            self.controls.set_spec(self.experiment.train)
            self._update_builder_context()
            self.builder.model.show_layers(list(self.experiment.network.layers))
        finally:
            self._updating = False
        self.class_mode.apply(self.experiment.classroom)

    @Slot(float, float, object)
    def _on_plot_clicked(self, x1: float, x2: float, modifiers: Any) -> None:
        """Click: a point of the data panel's "click adds" class (1 unless you chose another;
        a regression: target +1); Shift+click: class 0 (target -1); Ctrl+click: remove the
        nearest."""
        from ..session import nearest_point

        mods = Qt.KeyboardModifier(modifiers)
        data = self.experiment.data
        if mods & Qt.KeyboardModifier.ControlModifier:
            radius = REMOVE_RADIUS_PX * self.plots.boundary.pixel_size()
            found = nearest_point(self._arrays, x1, x2, radius) if self._arrays else None
            if found is None:
                self.status("Ctrl+click removes a point: there is none near the click.")
                return
            self._edit_data(
                data.without_point(found),
                "Remove point",
                "Removed a point: the weights were reset.",
            )
            return
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        if data.task == REGRESSION:  # TF Playground's targets run from -1 to 1
            label: int | float = -1.0 if shift else 1.0
            what = f"target {label:+g}"
        else:
            label = 0 if shift else self.data_panel.click_class.value()
            what = f"class-{label}"
        self._edit_data(
            data.with_point(x1, x2, label),
            f"Add {what} point",
            f"Added a {what} training point at ({x1:.3g}, {x2:.3g}): the weights were reset.",
        )

    @Slot()
    def clear_points(self) -> None:
        """Remove every point you added (undoable); generated points come back too."""
        data = self.experiment.data
        self._edit_data(
            replace(data, added=(), removed=()),
            "Clear your points",
            "Cleared your points: the weights were reset.",
        )

    def import_points(self, path: str | os.PathLike | None = None) -> bool:
        """Read points from a CSV file: they become the Custom dataset (one undoable step)."""
        path = path or self._ask_open("Import Points", CSV_FILTER)
        if not path:
            return False
        name = Path(path).name
        data = self.experiment.data
        try:
            points = read_points_file(path, test_fraction=data.test_fraction, seed=data.seed)
        except PointsFileError as e:
            problem = e.problem
            QMessageBox.warning(self, "Import Points", f"Could not import {name}:\n\n{problem}")
            self.status(f"Import failed: {name}: {problem.splitlines()[0]}")
            return False
        n_test = points.n_test
        self._edit_data(
            data.with_imported(points, regression=is_regression(points)),
            f"Import {name}",
            f"Imported {len(points):,} points from {name} ({len(points) - n_test:,} train, "
            f"{n_test:,} test) as the Custom dataset: the weights were reset.",
        )
        return True

    def export_points(self, path: str | os.PathLike | None = None) -> bool:
        """Write every current point (x1, x2, label, split) to a CSV file, atomically."""
        if self._arrays is None:
            self.status("No points to export.")
            return False
        path = path or self._ask_save("Export Points", "points.csv", CSV_FILTER)
        if not path:
            return False
        try:
            rows = self._arrays.rows()
            write_text(path, points_to_csv(rows, regression=self._arrays.is_regression))
        except OSError as e:
            QMessageBox.warning(
                self, "Export Points", f"Could not write {path}:\n\n{problem_text(e)}"
            )
            return False
        self.status(f"Exported {len(self._arrays.rows())} points to {path}.")
        return True

    def export_plot(self, path: str | os.PathLike | None = None) -> bool:
        """Save the plots (decision boundary and curves) as a PNG image, atomically."""
        path = path or self._ask_save("Export Plot", "plots.png", PNG_FILTER)
        if not path:
            return False
        try:
            save_picture(self.plots.picture(), path)
        except OSError as e:
            QMessageBox.warning(
                self, "Export Plot", f"Could not write {path}:\n\n{problem_text(e)}"
            )
            return False
        self.status(f"Saved the plots to {path}.")
        return True

    # -- training ---------------------------------------------------------------------------

    @Slot()
    def toggle_play(self) -> None:
        """Play if paused, pause if playing."""
        if self.controller.is_playing:
            self.controller.pause()
            self.status("Paused.")
            return
        if self.class_mode.refuses_control("training.play"):
            return
        if self.session is None and not self.rebuild_session("Training."):
            return
        with self.controller.locked_session() as session:
            blocker = session.play_blocker()
        if blocker:
            self.status(blocker)
            return
        self.notice.hide()
        self._announce_worker_start()
        self.controller.play()
        if self.controller.is_playing:  # else its ``stopped`` already said why not
            self.status("Training…")

    @Slot()
    def step(self) -> None:
        """Train one epoch."""
        if self.controller.is_playing or self.class_mode.refuses_control("training.play"):
            return
        if self.session is None and not self.rebuild_session("Stepping."):
            return
        announced = self._announce_worker_start()
        self.controller.step()
        if announced and self.statusBar().currentMessage() == announced:
            self.statusBar().clearMessage()  # started (a failure would have said so instead)

    def _announce_worker_start(self) -> str | None:
        """Say so before the first Play or Step starts the training process (~1.5 s if torch
        is still loading into the fork server, milliseconds after); the message, if shown."""
        if self.controller.worker_pid is not None:
            return None
        message = "Starting the training process…"
        self.status(message)
        self.statusBar().repaint()
        return message

    @Slot()
    def reset_weights(self) -> None:
        """Start again with new random weights (the next seed)."""
        train = self.experiment.train
        reset = self.experiment.replace(train=replace(train, seed=train.seed + 1))
        if self.class_mode.refuses(reset):
            return
        change = self.document.change(reset)
        self._updating = True
        try:
            self.controls.set_spec(self.experiment.train)
        finally:
            self._updating = False
        self.notice.hide()
        self._act_on(change)

    @Slot(object)
    def _on_snapshot(self, snap: Any) -> None:
        self.last_snapshot = snap
        self.plots.show_snapshot(snap)
        self.inside.show_snapshot(snap)
        regression = self.experiment.task == REGRESSION
        self.controls.show_progress(
            snap.epoch,
            snap.steps_per_second,
            snap.test_loss,
            snap.test_accuracy,
            test_rmse=snap.test_rmse if regression else None,
        )
        if self.include_weights_action.isChecked():
            self._update_title()

    @Slot(str)
    def _on_stopped(self, reason: str) -> None:
        self.controls.set_playing(False)
        self.status(f"Paused: {reason}.")
        if self.confusion_dock.isVisible():
            self.refresh_confusion()

    @Slot(str)
    def _on_diverged(self, reason: str) -> None:
        """Training blew up: say so beside the plots (no dialog to dismiss) and offer fixes."""
        session = self.session
        if session is None or session.divergence is None:
            return
        epoch, loss = session.divergence
        kept = session.epoch
        train = self.experiment.train
        lr, decay = train.learning_rate, train.weight_decay
        html = (
            f"<b>Training diverged at epoch {epoch}: the loss became {loss}.</b> Training "
            f"paused by itself; the weights and plots are those of epoch {kept}, the last "
            f"good one. Try a lower learning rate (now {lr:g})"
            + (" or add weight decay" if decay == 0 else f" or more weight decay (now {decay:g})")
            + ", then press Play."
        )
        layer = session.divergence_layer
        if layer is not None:
            html += f" The gradient of <b>{layer}</b> blew up first (see the Gradients tab)."
        self.plots.gradients.mark_divergence(
            layer,
            f"Diverged at epoch {epoch}"
            + (f": the gradient of {layer} blew up" if layer is not None else ""),
        )
        actions = [
            (
                f"Learning rate {lr / 10:g}",
                "Divide the learning rate by 10 (the weights are kept)",
                lambda: self.controls.learning_rate.setValue(lr / 10),
            )
        ]
        if decay == 0:
            actions.append(
                (
                    "Weight decay 0.001",
                    "Add L2 weight decay 0.001 (the weights are kept)",
                    lambda: self.controls.weight_decay.setValue(0.001),
                )
            )
        self.notice.show_notice(html, actions)
        where = f" ({layer}'s gradient blew up)" if layer is not None else ""
        self.status(
            f"Diverged at epoch {epoch} (loss {loss}){where}: paused at epoch {kept}. "
            "Lower the learning rate or add weight decay."
        )

    def refresh_confusion(self) -> None:
        """Compute the test set's confusion matrix for the current weights and show it."""
        if self.session is None:
            self.confusion.caption.setText("Nothing to show: the network cannot be built yet.")
            return
        with self.controller.locked_session() as session:
            if session.is_regression:
                self.confusion.show_regression()
                return
            matrix, epoch = session.confusion("test"), session.epoch
        self.confusion.show_matrix(matrix, epoch)

    @Slot(bool)
    def _on_confusion_visible(self, visible: bool) -> None:
        if visible:
            self.refresh_confusion()

    # -- model files ------------------------------------------------------------------------

    def export_model(self, path: str | os.PathLike | None = None) -> bool:
        """Write the model to a file, in the format its suffix names: .safetensors, .onnx or
        .py (PyTorch code); asks where, and in which format by the dialog's filter, when no
        path is given."""
        if self.session is None:
            self.status("Nothing to export: the network cannot be built yet.")
            return False
        if path is None:
            from ..model_files import model_filter, model_path

            path, chosen = QFileDialog.getSaveFileName(
                self, "Export Model", str(Path.cwd() / "model.safetensors"), model_filter()
            )
            if not path:
                return False
            path = model_path(path, chosen)
        from minidl import ExportError, ModelFileError

        try:
            with self.controller.locked_session() as session:
                session.save_model(path)
                epoch = session.epoch
        except (ModelFileError, ExportError, OSError) as e:
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
        if self.class_mode.refuses_control("network.weights"):
            return False
        self.controller.pause()
        self._updating = True  # the session is built below, with the imported weights
        try:
            if not self._edit(
                "experiment", experiment, f"Import {Path(path).name}", "Imported a model."
            ):
                return False
        finally:
            self._updating = False
        return self.rebuild_session(
            f"Imported {Path(path).name} with its weights.", weights=imported.state
        )

    # -- a model from Compare ---------------------------------------------------------------

    def current_weights(self) -> SavedWeights | None:
        """The current model's weights as an experiment file carries them (None: no model)."""
        if self.session is None:
            return None
        with self.controller.locked_session() as session:
            return session.saved_weights()

    def adopt_model(
        self, experiment: Experiment, weights: SavedWeights | None, message: str
    ) -> bool:
        """Make ``experiment`` the document's, its model starting from ``weights`` (fresh
        ones for None): Compare's "use this variant" and its undo (compare_window.py)."""
        self.controller.pause()
        self.document.change(experiment)
        self._show_experiment()
        self.notice.hide()
        return self.rebuild_session(message, saved=weights)

    # -- experiment files -------------------------------------------------------------------

    def _folder(self) -> str:
        if self._settings is not None:
            folder = self._settings.value("last_folder")
            if isinstance(folder, str) and Path(folder).is_dir():
                return folder
        return str(Path.cwd())

    def _remember_folder(self, path: str | os.PathLike) -> None:
        if self._settings is not None:
            self._settings.setValue("last_folder", str(Path(path).resolve().parent))

    def _ask_open(self, title: str, filters: str) -> str:
        path, _ = QFileDialog.getOpenFileName(self, title, self._folder(), filters)
        if path:
            self._remember_folder(path)
        return path

    def _ask_save(self, title: str, name: str, filters: str) -> str:
        path, _ = QFileDialog.getSaveFileName(
            self, title, str(Path(self._folder()) / name), filters
        )
        if not path:
            return ""
        if not Path(path).suffix:
            path = f"{path}{Path(name).suffix}"
        self._remember_folder(path)
        return path

    def _trained_epoch(self) -> int:
        return self.last_snapshot.epoch if self.last_snapshot is not None else 0

    def is_modified(self) -> bool:
        """Whether the setup (or, when experiments carry weights, the training) changed since
        the experiment was opened or saved."""
        return self.document.is_modified(
            self._trained_epoch(), with_weights=self.include_weights_action.isChecked()
        )

    def _mark_clean(self) -> None:
        self.document.mark_clean(self._trained_epoch())
        self._update_title()

    def _update_title(self) -> None:
        kind = " (class file)" if self.experiment.classroom is not None else ""
        self.setWindowTitle(f"{self.document.name}{kind}[*] — {APP_TITLE}")
        self.setWindowModified(self.is_modified())

    def maybe_discard(self) -> bool:
        """Ask Save / Discard / Cancel when there are unsaved changes; True to go ahead."""
        if not self.is_modified():
            return True
        name = self.file_path.name if self.file_path is not None else "this experiment"
        answer = QMessageBox.question(
            self,
            "Unsaved Changes",
            f"Save the changes to {name} first?\n\nDiscarding loses the changes to the "
            "network, the data, your points and the settings.",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save_experiment()
        return answer == QMessageBox.StandardButton.Discard

    def save_experiment(self, path: str | os.PathLike | None = None, *, ask: bool = False) -> bool:
        """Write the experiment as JSON, atomically (with the weights if that option is on).

        Without ``path`` it saves to the experiment's own file, or asks where (always with
        ``ask``, i.e. Save As).
        """
        if path is None and not ask and self.file_path is not None:
            path = self.file_path
        if path is None:
            default = self.file_path.name if self.file_path is not None else "experiment.json"
            path = self._ask_save("Save Experiment", default, EXPERIMENT_FILTER)
            if not path:
                return False
        weights = None
        if self.include_weights_action.isChecked() and self.session is not None:
            with self.controller.locked_session() as session:
                weights = session.saved_weights()
        try:
            self.document.save(path, weights, self._trained_epoch())
        except OSError as e:
            problem = problem_text(e)
            QMessageBox.warning(self, "Save Experiment", f"Could not save {path}:\n\n{problem}")
            self.status(f"Save failed: {path}: {problem}")
            return False
        self._update_title()
        self._add_recent(path)
        with_weights = f" with the weights of epoch {weights.epoch}" if weights else ""
        self.status(f"Saved the experiment{with_weights} to {path}.")
        return True

    def new_experiment(self) -> bool:
        """Start from the default experiment (asking about unsaved changes first)."""
        if not self.maybe_discard():
            return False
        self.set_experiment(Experiment())
        self.document.path = None
        self.rebuild_session("New experiment: the seed network on the disk.")
        self._mark_clean()
        return True

    def open_experiment(
        self, path: str | os.PathLike | None = None, *, example: bool = False
    ) -> bool:
        """Read an experiment file and set everything up from it (asking about unsaved changes
        first). An example opens as a new, untitled experiment."""
        if not self.maybe_discard():
            return False
        if path is None:
            path = self._ask_open("Open Experiment", EXPERIMENT_FILTER)
            if not path:
                return False
        try:
            experiment, weights = read_experiment(path)
        except ExperimentFileError as e:
            problem = e.problem
            QMessageBox.critical(self, "Open Experiment", f"Could not open {path}:\n\n{problem}")
            self.status(f"Open failed: {path}: {problem.splitlines()[0]}")
            if not os.path.lexists(path):
                self._forget_recent(path)
            return False
        name = Path(path).name
        self.set_experiment(experiment)
        self.document.path = None if example else Path(path)
        if not example:
            self._add_recent(path)
        self.notice.hide()
        with_weights = f" with its weights (epoch {weights.epoch})" if weights else ""
        built = self.rebuild_session(
            f"Opened {name}{with_weights}: press Play (Space) to train.", saved=weights
        )
        self._mark_clean()
        return built

    def set_experiment(self, experiment: Experiment) -> None:
        """Make ``experiment`` the document's and show it in every panel: a new history (an
        opened or new experiment cannot be undone into the one before)."""
        self.controller.pause()
        self.undo_stack.clear()
        self.document.change(experiment)
        self._show_experiment()

    # -- recent files -------------------------------------------------------------------------

    def recent_files(self) -> list[str]:
        """Experiments opened or saved lately, newest first."""
        if self._settings is not None:
            value = self._settings.value("recent_files", [])
            if isinstance(value, str):
                value = [value]
            return [str(v) for v in value or []][:MAX_RECENT]
        return list(self._recent)

    def _set_recent(self, paths: list[str]) -> None:
        self._recent = paths[:MAX_RECENT]
        if self._settings is not None:
            self._settings.setValue("recent_files", self._recent)
        self._rebuild_recent_menu()

    def _add_recent(self, path: str | os.PathLike) -> None:
        self._set_recent(recent_with(self.recent_files(), path))

    def _forget_recent(self, path: str | os.PathLike) -> None:
        self._set_recent(recent_without(self.recent_files(), path))

    def _rebuild_recent_menu(self) -> None:
        menu: QMenu = self.recent_menu
        menu.clear()
        paths = self.recent_files()
        for i, path in enumerate(paths, start=1):
            action = menu.addAction(f"&{i} {Path(path).name}")
            action.setObjectName(f"recent_{i}")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _=False, p=path: self.open_experiment(p))
        if not paths:
            empty = menu.addAction("No recent experiments")
            empty.setObjectName("recent_none")
            empty.setToolTip("Experiments you open or save appear here")
            empty.setEnabled(False)
        menu.addSeparator()
        clear = menu.addAction("&Clear Menu")
        clear.setObjectName("recent_clear")
        clear.setToolTip("Forget the recent experiments")
        clear.setEnabled(bool(paths))
        clear.triggered.connect(lambda: self._set_recent([]))

    # -- window -----------------------------------------------------------------------------

    def _restore_settings(self) -> None:
        if self._settings is None:
            return
        s = self._settings
        geometry = s.value("main_window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = s.value("main_window/state")
        if state is not None:
            self.restoreState(state)
        for key, action in self._remembered_toggles().items():
            value = s.value(key)
            if value is not None:
                action.setChecked(str(value).lower() in ("true", "1"))
        self._rebuild_recent_menu()

    def _remembered_toggles(self) -> dict[str, QAction]:
        return {
            "view/show_test": self.plots.show_test_action,
            "view/discretize": self.plots.discretize_action,
            "view/log_scale": self.plots.log_scale_action,
            "files/include_weights": self.include_weights_action,
        }

    def save_settings(self) -> None:
        """Write geometry, dock layout and preferences to the QSettings (if there are any)."""
        if self._settings is None:
            return
        self._settings.setValue("main_window/geometry", self.saveGeometry())
        self._settings.setValue("main_window/state", self.saveState())
        for key, action in self._remembered_toggles().items():
            self._settings.setValue(key, action.isChecked())
        self._settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.ask_before_closing and not self.maybe_discard():
            event.ignore()
            return
        for controller in self.findChildren(TrainingController):  # Compare's and Sweep's too
            controller.shutdown()
        self.class_mode.apply(None)  # the docks a class file hid are not the user's layout
        self.save_settings()
        super().closeEvent(event)


_startup_frozen = False


def _freeze_startup_objects() -> None:
    """Keep what start-up built out of the cyclic garbage collector's full passes, once.

    Qt's wrappers, pyqtgraph, numpy and torch leave ~200,000 long-lived objects in this process,
    and a full collection walked them all: a 140 ms stall of the GUI thread every few seconds of
    training (measured with gc.callbacks). Collected, then frozen (``gc.freeze``), they are
    skipped; objects made later are collected as before. A frozen object is still freed when
    its last reference goes, but one that later ends up in a reference cycle is not: start-up's
    objects (modules, the first window) live as long as the app anyway.
    """
    global _startup_frozen
    if not _startup_frozen:
        _startup_frozen = True
        gc.collect()
        gc.freeze()
