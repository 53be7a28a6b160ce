"""A non-modal notice bar across the window: what happened, what to try, and buttons to try it.

It sits above the panels instead of popping up a dialog, so training state stays visible and
nothing waits for a click. Its colours are a translucent amber over the palette's window colour,
with the palette's text colour, so it reads in light and dark themes alike.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QToolButton,
    QWidget,
)

__all__ = ["NoticeBar"]


class NoticeBar(QFrame):
    """A dismissable message with optional action buttons; hidden until ``show_notice``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notice_bar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#notice_bar { background: rgba(240, 170, 0, 0.22);"
            " border: 1px solid rgba(200, 130, 0, 0.8); border-radius: 4px; }"
        )
        self.icon = QLabel(self)
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_MessageBoxIconSize)
        icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        self.icon.setPixmap(icon.pixmap(size, size))
        self.text = QLabel(self)
        self.text.setObjectName("notice_text")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._buttons = QHBoxLayout()
        self.close_button = QToolButton(self)
        self.close_button.setObjectName("notice_close")
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Dismiss this notice (Esc)")
        self.close_button.clicked.connect(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 4, 4)
        row.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.text, 1)
        row.addLayout(self._buttons)
        row.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_notice(
        self, html: str, actions: list[tuple[str, str, Callable[[], None]]] = ()
    ) -> None:
        """Show ``html`` with buttons (text, tooltip, callback); a button also dismisses."""
        while self._buttons.count():
            item = self._buttons.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.text.setText(html)
        for text, tip, callback in actions:
            button = QPushButton(text, self)
            button.setToolTip(tip)
            button.clicked.connect(callback)
            button.clicked.connect(self.hide)
            self._buttons.addWidget(button)
        self.show()

    def message(self) -> str:
        """The notice's text without markup (for tests and the status bar)."""
        from PySide6.QtGui import QTextDocument

        doc = QTextDocument()
        doc.setHtml(self.text.text())
        return doc.toPlainText()
