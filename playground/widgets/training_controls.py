"""The training bar: Play/Pause, Step, Reset, the optimisation settings and the run's counters.

The stop conditions (epoch limit, target test loss, target test accuracy or R², patience)
are edited here too, in
``stop_box``, which the window places in its left column.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QFont, QKeySequence, QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..experiment import (
    INITS,
    LOSSES,
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    OPTIMIZERS,
    REGULARIZATIONS,
    TrainSpec,
)
from .icons import icon

__all__ = ["LogSpinBox", "TrainingControls"]


class LogSpinBox(QDoubleSpinBox):
    """A number box whose arrows walk a 1-3-10 ladder (0.001, 0.003, 0.01...), shown compactly."""

    LADDER = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)

    def __init__(self, minimum: float, maximum: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(8)
        self.setRange(minimum, maximum)
        self.setKeyboardTracking(False)
        ladder = [v for v in self.LADDER if minimum <= v <= maximum]
        self._ladder = ([0.0] if minimum == 0 else []) + ladder

    def stepBy(self, steps: int) -> None:
        value = self.value()
        below = [i for i, v in enumerate(self._ladder) if v <= value * (1 + 1e-9)]
        i = below[-1] if below else 0
        if steps < 0 and self._ladder[i] < value * (1 - 1e-9):
            steps += 1  # from between two rungs, one step down lands on the lower rung
        i = max(0, min(len(self._ladder) - 1, i + steps))
        self.setValue(self._ladder[i])

    def textFromValue(self, value: float) -> str:
        return f"{value:.6g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> Any:
        stripped = text.strip()
        if stripped in ("", "-", ".", "e", "1e", "1e-"):
            return QValidator.State.Intermediate
        try:
            value = float(stripped)
        except ValueError:
            if stripped[-1:] in "eE-+." and stripped[:-1].replace(".", "", 1).isdigit():
                return QValidator.State.Intermediate
            return QValidator.State.Invalid
        if self.minimum() <= value <= self.maximum():
            return QValidator.State.Acceptable
        return QValidator.State.Intermediate


class TrainingControls(QWidget):
    """Play/Pause (Space), Step (F10), Reset (Ctrl+R) and the training settings.

    ``spec_changed(TrainSpec)`` fires after each committed change of a setting. The actions are
    public so the window's menu shows the same ones.
    """

    spec_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._spec = TrainSpec()
        self._playing = False

        self.play_action = QAction(icon("play"), "&Play", self)
        self.play_action.setObjectName("play")
        self.play_action.setShortcut(QKeySequence(Qt.Key.Key_Space))
        self.play_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.play_action.setToolTip("Train continuously (Space); Space again pauses")
        self.step_action = QAction(icon("step"), "&Step", self)
        self.step_action.setObjectName("step")
        self.step_action.setShortcut(QKeySequence(Qt.Key.Key_F10))
        self.step_action.setToolTip("Train one epoch (F10)")
        self.reset_action = QAction(icon("reset"), "&Reset", self)
        self.reset_action.setObjectName("reset")
        self.reset_action.setShortcut(QKeySequence("Ctrl+R"))
        self.reset_action.setToolTip("Start again with new random weights (Ctrl+R)")

        buttons = QHBoxLayout()
        for action, size in (
            (self.reset_action, 28),
            (self.play_action, 40),
            (self.step_action, 28),
        ):
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setIconSize(
                button.iconSize().scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio)
            )
            button.setAutoRaise(True)
            button.setObjectName(f"{action.objectName()}_button")
            buttons.addWidget(button)

        self.epoch_label = QLabel(self)
        self.epoch_label.setObjectName("epoch_label")
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSizeF(mono.pointSizeF() * 1.5)
        self.epoch_label.setFont(mono)
        self.rate_label = QLabel(self)
        self.rate_label.setObjectName("rate_label")
        self.metrics_label = QLabel(self)
        self.metrics_label.setObjectName("metrics_label")
        counters = QVBoxLayout()
        counters.setSpacing(0)
        counters.addWidget(self.epoch_label)
        counters.addWidget(self.rate_label)
        counters.addWidget(self.metrics_label)

        self.learning_rate = LogSpinBox(1e-6, 100.0, self)
        self.learning_rate.setObjectName("learning_rate")
        self.learning_rate.setToolTip("Learning rate: applies at once, even while training")
        self.batch_size = QSpinBox(self)
        self.batch_size.setObjectName("batch_size")
        self.batch_size.setRange(1, MAX_BATCH_SIZE)
        self.batch_size.setKeyboardTracking(False)
        self.batch_size.setToolTip("Points per optimiser step")
        self.optimizer = QComboBox(self)
        self.optimizer.setObjectName("optimizer")
        for key, title in OPTIMIZERS.items():
            self.optimizer.addItem(title, key)
        self.optimizer.setToolTip(
            "How the gradients move the weights (momentum 0.9; Adam's defaults)"
        )
        self.loss = QComboBox(self)
        self.loss.setObjectName("loss")
        for key, title in LOSSES.items():
            self.loss.addItem(title, key)
        self.loss.setToolTip(
            "What training minimises; categorical cross-entropy makes the output layer a "
            "score per class; a regression takes MSE, MAE or Huber (a change resets the "
            "weights)"
        )
        self.regularization = QComboBox(self)
        self.regularization.setObjectName("regularization")
        for key, title in REGULARIZATIONS.items():
            self.regularization.addItem(title, key)
        self.regularization.setToolTip(
            "Penalty on the weights (not the biases), as TF Playground applies it: L2 shrinks "
            "every weight in proportion to its size, L1 by a constant step and sets a weight "
            "that would cross zero to zero; applies at once"
        )
        self.weight_decay = LogSpinBox(0.0, 10.0, self)
        self.weight_decay.setObjectName("weight_decay")
        self.weight_decay.setToolTip("Regularisation rate: how hard the penalty pulls to zero")
        rate_text = self.weight_decay.fontMetrics().horizontalAdvance("0.0003")
        self.weight_decay.setMinimumWidth(rate_text + 40)  # room for its arrows too
        self.init = QComboBox(self)
        self.init.setObjectName("init")
        for key, title in INITS.items():
            self.init.addItem(title, key)
        self.init.setToolTip(
            "How the first weights are drawn (a change resets the weights); with Zeros every "
            "unit of a layer stays the same: nothing breaks the symmetry"
        )
        regularization = QHBoxLayout()
        regularization.setSpacing(4)
        regularization.addWidget(self.regularization)
        regularization.addWidget(self.weight_decay)

        left = QFormLayout()
        left.addRow("&Learning rate", self.learning_rate)
        left.addRow("&Batch size", self.batch_size)
        label = QLabel("Re&gularisation", self)  # a row of two widgets: the label needs a buddy
        label.setBuddy(self.regularization)
        left.addRow(label, regularization)
        right = QFormLayout()
        right.addRow("&Optimizer", self.optimizer)
        right.addRow("Lo&ss", self.loss)
        right.addRow("&Initial weights", self.init)
        self.stop_box = self._make_stop_box()

        row = QHBoxLayout(self)
        row.setContentsMargins(4, 4, 4, 4)
        row.addLayout(buttons)
        row.addSpacing(12)
        row.addLayout(counters)
        row.addStretch(1)
        row.addLayout(left)
        row.addSpacing(12)
        row.addLayout(right)

        self.set_spec(self._spec)
        self.show_progress(0, math.nan, math.nan, math.nan)
        self.learning_rate.valueChanged.connect(self._commit)
        self.batch_size.valueChanged.connect(self._commit)
        self.weight_decay.valueChanged.connect(self._commit)
        self.optimizer.currentIndexChanged.connect(self._commit)
        self.loss.currentIndexChanged.connect(self._commit)
        self.regularization.currentIndexChanged.connect(self._commit)
        self.init.currentIndexChanged.connect(self._commit)
        for box in (self.stop_epochs, self.stop_loss, self.stop_metric, self.stop_patience):
            box.toggled.connect(self._commit)
        for spin in (self.max_epochs, self.target_loss, self.target_metric, self.patience):
            spin.valueChanged.connect(self._commit)

    def _make_stop_box(self) -> QGroupBox:
        box = QGroupBox("Stop conditions", self)
        box.setObjectName("stop_conditions")
        box.setToolTip("Play pauses by itself when a ticked condition is met")
        self.stop_epochs = QCheckBox("After", box)
        self.stop_epochs.setObjectName("stop_epochs")
        self.stop_epochs.setToolTip("Pause after a number of epochs")
        self.max_epochs = QSpinBox(box)
        self.max_epochs.setObjectName("max_epochs")
        self.max_epochs.setRange(1, MAX_EPOCHS)
        self.max_epochs.setValue(200)
        self.max_epochs.setSuffix(" epochs")
        self.max_epochs.setToolTip("How many epochs in all before Play pauses")
        self.stop_loss = QCheckBox("At test loss ≤", box)
        self.stop_loss.setObjectName("stop_loss")
        self.stop_loss.setToolTip("Pause once the test loss is at or below a target")
        self.target_loss = LogSpinBox(1e-6, 1e6, box)
        self.target_loss.setObjectName("target_test_loss")
        self.target_loss.setValue(0.01)
        self.target_loss.setToolTip("The target test loss")
        self.stop_metric = QCheckBox("At test accuracy ≥", box)
        self.stop_metric.setObjectName("stop_metric")
        self.stop_metric.setToolTip(
            "Pause once the test accuracy (for a regression: the test R²) is at or above a target"
        )
        self.target_metric = QDoubleSpinBox(box)
        self.target_metric.setObjectName("target_test_metric")
        self.target_metric.setRange(0.01, 1.0)
        self.target_metric.setDecimals(3)
        self.target_metric.setSingleStep(0.01)
        self.target_metric.setValue(0.95)
        self.target_metric.setKeyboardTracking(False)
        self.target_metric.setToolTip("The target test accuracy or R² (1 is perfect)")
        self.stop_patience = QCheckBox("No better for", box)
        self.stop_patience.setObjectName("stop_patience")
        self.stop_patience.setToolTip(
            "Pause when the test loss has not improved for a number of epochs in a row "
            "(early stopping)"
        )
        self.patience = QSpinBox(box)
        self.patience.setObjectName("patience")
        self.patience.setRange(1, MAX_EPOCHS)
        self.patience.setValue(20)
        self.patience.setSuffix(" epochs")
        self.patience.setToolTip("Epochs without a new best test loss before Play pauses")
        for spin in (self.max_epochs, self.patience):
            spin.setKeyboardTracking(False)
        grid = QGridLayout(box)
        for row, (check, spin) in enumerate(
            (
                (self.stop_epochs, self.max_epochs),
                (self.stop_loss, self.target_loss),
                (self.stop_metric, self.target_metric),
                (self.stop_patience, self.patience),
            )
        ):
            grid.addWidget(check, row, 0)
            grid.addWidget(spin, row, 1)
            check.toggled.connect(spin.setEnabled)
        return box

    def spec(self) -> TrainSpec:
        """The settings shown."""
        return self._spec

    def set_spec(self, spec: TrainSpec) -> None:
        """Show ``spec`` without emitting ``spec_changed``."""
        self._spec = spec
        widgets = [
            self.learning_rate,
            self.batch_size,
            self.weight_decay,
            self.optimizer,
            self.loss,
            self.regularization,
            self.init,
            self.stop_epochs,
            self.stop_loss,
            self.stop_patience,
            self.stop_metric,
            self.max_epochs,
            self.target_loss,
            self.target_metric,
            self.patience,
        ]
        for w in widgets:
            w.blockSignals(True)
        try:
            self.learning_rate.setValue(spec.learning_rate)
            self.batch_size.setValue(spec.batch_size)
            self.weight_decay.setValue(spec.weight_decay)
            self.optimizer.setCurrentIndex(max(0, self.optimizer.findData(spec.optimizer)))
            self.loss.setCurrentIndex(max(0, self.loss.findData(spec.loss)))
            self.regularization.setCurrentIndex(
                max(0, self.regularization.findData(spec.regularization))
            )
            self.weight_decay.setEnabled(spec.regularization != "none")
            self.init.setCurrentIndex(max(0, self.init.findData(spec.init)))
            for check, spin, value in (
                (self.stop_epochs, self.max_epochs, spec.max_epochs),
                (self.stop_loss, self.target_loss, spec.target_test_loss),
                (self.stop_metric, self.target_metric, spec.target_test_metric),
                (self.stop_patience, self.patience, spec.patience),
            ):
                check.setChecked(value is not None)
                spin.setEnabled(value is not None)
                if value is not None:
                    spin.setValue(value)
        finally:
            for w in widgets:
                w.blockSignals(False)

    def set_playing(self, playing: bool) -> None:
        """Show Play or Pause on the play button."""
        self._playing = playing
        self.play_action.setText("&Pause" if playing else "&Play")
        self.play_action.setIcon(icon("pause" if playing else "play"))
        self.play_action.setToolTip(
            "Pause training (Space)" if playing else "Train continuously (Space)"
        )
        self.step_action.setEnabled(not playing)

    def set_regression(self, regression: bool) -> None:
        """Name the metric the stop condition watches: R² for a regression, else accuracy."""
        self.stop_metric.setText("At test R² ≥" if regression else "At test accuracy ≥")

    def set_trainable(self, trainable: bool) -> None:
        """Enable Play and Step only when the experiment can train."""
        self.play_action.setEnabled(trainable or self._playing)
        self.step_action.setEnabled(trainable and not self._playing)

    def show_progress(
        self,
        epoch: int,
        steps_per_second: float,
        test_loss: float,
        test_accuracy: float,
        *,
        test_rmse: float | None = None,
    ) -> None:
        """Show the epoch counter, the speed and the latest test metrics: the accuracy, or
        for a regression (``test_rmse`` given) R² (in ``test_accuracy``) and the RMSE."""
        self.epoch_label.setText(f"Epoch {epoch:07,d}")
        known = math.isfinite(steps_per_second) and steps_per_second > 0
        rate = f"{steps_per_second:,.0f}" if known else "–"
        self.rate_label.setText(f"{rate} steps/s")

        def shown(value: float, form: str) -> str:
            return form.format(value) if math.isfinite(value) else "–"

        loss = shown(test_loss, "{:.4f}")
        if test_rmse is not None:
            r2, rmse = shown(test_accuracy, "{:.3f}"), shown(test_rmse, "{:.4f}")
            self.metrics_label.setText(f"test loss {loss} · R² {r2} · RMSE {rmse}")
        else:
            accuracy = shown(100 * test_accuracy, "{:.1f} %")
            self.metrics_label.setText(f"test loss {loss} · accuracy {accuracy}")

    def _commit(self) -> None:
        spec = replace(
            self._spec,
            learning_rate=self.learning_rate.value(),
            batch_size=self.batch_size.value(),
            weight_decay=self.weight_decay.value(),
            optimizer=self.optimizer.currentData(),
            loss=self.loss.currentData(),
            regularization=self.regularization.currentData(),
            init=self.init.currentData(),
            max_epochs=self.max_epochs.value() if self.stop_epochs.isChecked() else None,
            target_test_loss=self.target_loss.value() if self.stop_loss.isChecked() else None,
            patience=self.patience.value() if self.stop_patience.isChecked() else None,
            target_test_metric=(
                self.target_metric.value() if self.stop_metric.isChecked() else None
            ),
        )
        self.weight_decay.setEnabled(spec.regularization != "none")
        if spec != self._spec:
            self._spec = spec
            self.spec_changed.emit(spec)
