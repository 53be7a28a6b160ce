"""The Training menu's Compare… and Sweep… actions, without importing the windows (nor torch).

The main window opens before torch is imported (tests/test_app_window.py); the Compare and Sweep
windows train with minidl, so they are imported when first opened.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

__all__ = ["compare_actions"]


def compare_actions(window: Any) -> list[QAction]:
    """Training menu actions that open the Compare and Sweep windows of ``window``."""
    compare = QAction("&Compare…", window)
    compare.setObjectName("compare")
    compare.setShortcut(QKeySequence("Ctrl+Shift+C"))
    compare.setToolTip("Train variants of this experiment side by side (Ctrl+Shift+C)")
    compare.setStatusTip(compare.toolTip())
    sweep = QAction("S&weep…", window)
    sweep.setObjectName("sweep")
    sweep.setToolTip("A grid of two settings, seeds averaged: mean ± sd of the test result")
    sweep.setStatusTip(sweep.toolTip())

    def show(kind: str) -> None:
        found = window.findChild(QWidget, f"{kind}_window")
        if found is None:
            if kind == "compare":
                from .compare_window import CompareWindow

                found = CompareWindow(window)
            else:
                from .sweep_window import SweepWindow

                found = SweepWindow(window)
        found.show()
        found.raise_()
        found.activateWindow()

    compare.triggered.connect(lambda: show("compare"))
    sweep.triggered.connect(lambda: show("sweep"))
    return [compare, sweep]
