"""The colours of classes and values: TF Playground's orange and blue, a colour-blind-safe
palette for up to ten classes, and the diverging map of a regression.

Two classes keep TensorFlow Playground's orange (class 0) and blue (class 1). More classes take
Paul Tol's "muted" scheme (nine colours chosen to stay apart for the common colour-vision
deficiencies; https://personal.sron.nl/~pault/#sec:qualitative) with its pale grey as the
tenth. A regression's values run through TF Playground's own diverging scale: orange below the
middle, a light grey at it, blue above.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

__all__ = [
    "CLASS0",
    "CLASS1",
    "REGRESSION_MAP",
    "TOL_MUTED",
    "class_colours",
    "class_image",
    "value_colours",
]

# TensorFlow Playground's colours: orange for class 0, blue for class 1
CLASS0 = QColor(245, 147, 34)
CLASS1 = QColor(8, 119, 189)

TOL_MUTED: tuple[QColor, ...] = tuple(
    QColor(code)
    for code in (
        "#CC6677",  # rose
        "#332288",  # indigo
        "#DDCC77",  # sand
        "#117733",  # green
        "#88CCEE",  # cyan
        "#882255",  # wine
        "#44AA99",  # teal
        "#999933",  # olive
        "#AA4499",  # purple
        "#DDDDDD",  # pale grey
    )
)
"""Paul Tol's muted qualitative scheme and its pale grey: one colour per class, up to ten."""

REGRESSION_MAP = pg.ColorMap(
    [0.0, 0.5, 1.0],
    [CLASS0.getRgb()[:3], (150, 150, 150), CLASS1.getRgb()[:3]],
)
"""The colours of a regression's points: TF Playground's orange (low) and blue (high) through
a mid grey, so that points near the middle still show on the heatmap's light grey."""

_BASE = np.array([245.0, 245.0, 245.0])
"""What an undecided region fades to: the light grey in the middle of the two-class map."""


def class_colours(classes: int) -> tuple[QColor, ...]:
    """The colour of each of ``classes`` classes: orange and blue for two, else Tol's."""
    if classes <= 2:
        return (CLASS0, CLASS1)
    if classes > len(TOL_MUTED):
        raise ValueError(f"there are colours for {len(TOL_MUTED)} classes, not {classes}")
    return TOL_MUTED[:classes]


def class_image(probabilities: np.ndarray, *, discretize: bool = False) -> np.ndarray:
    """An RGB picture (rows, cols, 3) uint8 of class probabilities (K, rows, cols): each cell
    in its most probable class's colour, faded towards grey as that probability falls to
    1 / K (a coin toss between all classes); with ``discretize`` every cell at full strength.

    NaN probabilities (a diverged run) show as the grey of an undecided cell.
    """
    p = np.asarray(probabilities, dtype=np.float32)
    if p.ndim != 3 or not 1 <= p.shape[0] <= len(TOL_MUTED):
        raise ValueError(f"class probabilities of shape (K, rows, cols) expected, got {p.shape}")
    classes = p.shape[0]
    finite = np.isfinite(p).all(axis=0)
    clean = np.where(np.isfinite(p), p, 0.0)
    winner = clean.argmax(axis=0)
    chance = 1.0 / classes
    confidence = (clean.max(axis=0) - chance) / (1.0 - chance) if classes > 1 else clean[0]
    confidence = np.clip(np.where(finite, confidence, 0.0), 0.0, 1.0)
    if discretize:
        confidence = np.where(finite, 1.0, 0.0)
    palette = np.array([c.getRgb()[:3] for c in class_colours(classes)], dtype=np.float32)
    # even a just-winning class tints its cell; a sure one stays well lighter than the points
    strength = (0.12 + 0.38 * confidence)[..., None]
    rgb = _BASE + (palette[winner] - _BASE) * strength
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def value_colours(values: np.ndarray, levels: tuple[float, float]) -> list[QColor]:
    """Each value's colour on REGRESSION_MAP stretched over ``levels`` (low, high)."""
    low, high = levels
    span = high - low if high > low else 1.0
    t = np.clip((np.asarray(values, dtype=np.float64) - low) / span, 0.0, 1.0)
    t = np.where(np.isfinite(t), t, 0.5)
    return list(REGRESSION_MAP.map(t, mode=pg.ColorMap.QCOLOR))
