"""The app's SVG icons (playground/resources/icons), loaded once each."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

__all__ = ["RESOURCES", "icon"]

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
"""The folder of the app's resources: icons, stylesheet, example experiments."""


@cache
def icon(name: str) -> QIcon:
    """The icon ``resources/icons/<name>.svg``; an empty icon if there is none."""
    path = RESOURCES / "icons" / f"{name}.svg"
    return QIcon(str(path)) if path.exists() else QIcon()
