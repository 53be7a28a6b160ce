"""The confusion matrix of the test set, in a dock the View menu shows on demand.

K×K for K classes (up to ten); a regression has none, and the dock says so.
"""

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
    """A K×K table (rows: true class, columns: predicted class) with counts and row shares.

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
        self._set_classes(2)
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

    def _set_classes(self, classes: int) -> None:
        """A table of ``classes`` rows and columns, headed by the class numbers."""
        self.table.clearContents()
        self.table.setRowCount(classes)
        self.table.setColumnCount(classes)
        short = classes > 4  # ten columns of "predicted 7" do not fit a dock
        self.table.setHorizontalHeaderLabels(
            [f"{'pred. ' if short else 'predicted '}{k}" for k in range(classes)]
        )
        self.table.setVerticalHeaderLabels([f"true {k}" for k in range(classes)])

    def show_regression(self) -> None:
        """Say that a regression has no classes to confuse (and show no table)."""
        self.matrix = None
        self.table.hide()
        self.caption.setText(
            "A regression predicts values, not classes: there is no confusion matrix. "
            "R² and the RMSE are under the plot and in the training bar."
        )

    def show_matrix(self, matrix: np.ndarray, epoch: int) -> None:
        """Show ``matrix`` (K×K counts, rows true, columns predicted) computed at ``epoch``."""
        self.matrix = np.asarray(matrix)
        classes = len(self.matrix)
        if self.table.rowCount() != classes:
            self._set_classes(classes)
        self.table.show()
        total = int(self.matrix.sum())
        if total == 0:
            self.caption.setText(f"Epoch {epoch}: there are no test points.")
        else:
            accuracy = np.trace(self.matrix) / total
            self.caption.setText(
                f"Test set at epoch {epoch}: {total} points, accuracy {100 * accuracy:.1f} %"
            )
        text = self.palette().color(QPalette.ColorRole.Text)
        for i in range(classes):
            row_total = int(self.matrix[i].sum())
            for j in range(classes):
                count = int(self.matrix[i, j])
                share = f"\n{100 * count / row_total:.1f} %" if row_total else ""
                item = QTableWidgetItem(f"{count}{share}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                item.setBackground(RIGHT if i == j else WRONG)
                item.setForeground(text)
                self.table.setItem(i, j, item)
