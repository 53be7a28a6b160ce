"""The main window as the GUI tests open it: shown, exposed, closing without asking."""

from __future__ import annotations

from typing import Any

from playground.experiment import Experiment
from playground.widgets.main_window import MainWindow


def make_window(qtbot: Any, experiment: Experiment | None = None, **kwargs: Any) -> MainWindow:
    """A shown MainWindow of ``experiment`` (keyword arguments go to MainWindow)."""
    win = MainWindow(experiment, **kwargs)
    win.ask_before_closing = False
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win
