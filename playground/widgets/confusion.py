"""The confusion matrix of the test set, in a dock the View menu shows on demand."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

__all__ = ["ConfusionMatrixView"]

RIGHT = QColor(46, 160, 67, 70)
WRONG = QColor(214, 39, 40, 70)


class ConfusionMatrixView(QWidget):
    """A 2×2 table (rows: true class, columns: predicted class) with counts and row shares.

    The cells are tinted translucent green (right) and red (wrong) over the palette's base
    colour; the numbers use the palette's text colour, so light and dark themes both read.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("confusion_matrix")
        self.caption = QLabel("Press Refresh to compute.", self)
        self.caption.setObjectName("confusion_caption")
        self.caption.setWordWrap(True)
        self.table = QTableWidget(2, 2, self)
        self.table.setObjectName("confusion_table")
        self.table.setToolTip(
            "Test points by true class (rows) and predicted class (columns): the diagonal is "
            "right, the rest wrong"
        )
        self.table.setHorizontalHeaderLabels(["predicted 0", "predicted 1"])
        self.table.setVerticalHeaderLabels(["true 0", "true 1"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumSize(240, 120)
        self.refresh_button = QPushButton("&Refresh", self)
        self.refresh_button.setObjectName("confusion_refresh")
        self.refresh_button.setToolTip("Compute the matrix for the current weights")
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.refresh_button, 0, Qt.AlignmentFlag.AlignRight)
        self.matrix: np.ndarray | None = None

    def show_matrix(self, matrix: np.ndarray, epoch: int) -> None:
        """Show ``matrix`` (counts, rows true, columns predicted) computed at ``epoch``."""
        self.matrix = np.asarray(matrix)
        total = int(self.matrix.sum())
        if total == 0:
            self.caption.setText(f"Epoch {epoch}: there are no test points.")
        else:
            accuracy = np.trace(self.matrix) / total
            self.caption.setText(
                f"Test set at epoch {epoch}: {total} points, accuracy {100 * accuracy:.1f} %"
            )
        text = self.palette().color(QPalette.ColorRole.Text)
        for i in range(2):
            row_total = int(self.matrix[i].sum())
            for j in range(2):
                count = int(self.matrix[i, j])
                share = f"\n{100 * count / row_total:.1f} %" if row_total else ""
                item = QTableWidgetItem(f"{count}{share}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                item.setBackground(RIGHT if i == j else WRONG)
                item.setForeground(text)
                self.table.setItem(i, j, item)
