"""What the Compare and Sweep windows share: a window of its own over the main window's
experiment that trains in a worker process of its own.

It has a message line (``say``), starts its worker once it is shown (so the first Play hands
over at once) and ends it when it closes, and builds the session it trains from the main
experiment with a message, never an exception (``session_of``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import QLabel, QWidget

from ..experiment import Experiment, ExperimentError
from ..worker import TrainingController


class SideWindow(QWidget):
    """A window of a main window (``main``) with its own training process; see the module."""

    def __init__(self, main: Any, name: str, title: str) -> None:
        super().__init__(main, Qt.WindowType.Window)
        self.setObjectName(f"{name}_window")
        self.setWindowTitle(f"{title} — minidl playground")
        self.main = main
        self.controller = TrainingController(self)
        self.message = QLabel(self)
        self.message.setObjectName(f"{name}_message")
        self.message.setWordWrap(True)

    def say(self, text: str, *, error: bool = False) -> None:
        """Show a sentence in the message line (in red for a problem)."""
        self.message.setStyleSheet("color: #c00000;" if error else "")
        self.message.setText(text)

    def session_of(self, make: Callable[[Experiment], Any]) -> Any | None:
        """``make(main experiment)``, the session to train; None, with the reason said, when
        the experiment cannot train or ``make`` refuses its settings."""
        experiment = self.main.experiment
        problems = experiment.problems()
        if problems:
            self.say(f"The main experiment cannot train yet: {problems[0]}", error=True)
            return None
        try:
            return make(experiment)
        except (ExperimentError, ValueError) as e:
            self.say(str(e), error=True)
            return None

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        # its worker starts while the learner sets things up, once the window is drawn
        QTimer.singleShot(100, self._prepare)

    @Slot()
    def _prepare(self) -> None:
        # not for a window (or a main window) closed meanwhile: its close ended the worker
        if self.isVisible() and self.main.isVisible():
            self.controller.prepare()

    def closeEvent(self, event: Any) -> None:
        self.controller.shutdown()
        super().closeEvent(event)
