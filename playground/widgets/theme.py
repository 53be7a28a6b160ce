"""Light and dark palettes for ``--theme`` (the default follows the system's own theme).

Every widget of the app draws with palette roles (Base, Text, Window, Highlight...), never with
fixed black or white, so any palette reads; these two exist to check both, and for systems whose
Qt does not follow a dark desktop theme.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

__all__ = ["apply_theme", "dark_palette"]


def dark_palette() -> QPalette:
    """A dark palette in the spirit of Fusion's: light text on dark grey."""
    p = QPalette()
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    colours = {
        role.Window: QColor(45, 45, 48),
        role.WindowText: QColor(225, 225, 225),
        role.Base: QColor(30, 30, 32),
        role.AlternateBase: QColor(45, 45, 48),
        role.ToolTipBase: QColor(60, 60, 64),
        role.ToolTipText: QColor(230, 230, 230),
        role.PlaceholderText: QColor(140, 140, 140),
        role.Text: QColor(225, 225, 225),
        role.Button: QColor(55, 55, 58),
        role.ButtonText: QColor(225, 225, 225),
        role.BrightText: QColor(255, 90, 90),
        role.Light: QColor(75, 75, 78),
        role.Midlight: QColor(62, 62, 65),
        role.Mid: QColor(90, 90, 94),
        role.Dark: QColor(25, 25, 27),
        role.Shadow: QColor(0, 0, 0),
        role.Highlight: QColor(42, 130, 218),
        role.HighlightedText: QColor(255, 255, 255),
        role.Link: QColor(90, 160, 240),
    }
    for r, colour in colours.items():
        p.setColor(r, colour)
    for r in (role.Text, role.WindowText, role.ButtonText):
        p.setColor(group.Disabled, r, QColor(120, 120, 120))
    return p


def apply_theme(app: QApplication, theme: str) -> None:
    """Use the system's look ("system"), or Fusion with a light or a dark palette."""
    if theme == "system":
        return
    app.setStyle("Fusion")
    app.setPalette(dark_palette() if theme == "dark" else app.style().standardPalette())
