"""The data panel: which dataset, how many points, split, noise, seed, and the input features.

Your own points (clicked on the plot or imported) are counted here; the Custom dataset has only
them, so the generator's settings (points, split, noise, seed) are greyed out for it.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..experiment import (
    CUSTOM,
    DATASET_CHOICES,
    DEFAULT_CLASSES,
    FEATURE_LABELS,
    FEATURES,
    MAX_CLASSES,
    MAX_POINTS,
    MULTICLASS_DATASETS,
    REGRESSION,
    DataSpec,
)
from ..pointset import point_arrays

__all__ = ["DataPanel"]

DATASET_HELP = {
    "disk": "The course's disk: points in the unit square, class 1 inside a central disk.",
    "circle": "A blob (class 1) inside a ring (class 0).",
    "xor": "Four quadrants: class 1 where x₁ and x₂ have the same sign.",
    "gaussians": "Two Gaussian clouds; noise makes them overlap.",
    "spiral": "Interleaved spiral arms, one per class: needs depth or sine features.",
    "plane": "Regression: the target rises evenly across the plane, from -1 to 1.",
    "multigauss": "Regression: six Gaussian bumps, targets between -1 and 1.",
    "blobs": "K Gaussian clusters, one per class.",
    "moons": "Two interleaving half circles.",
    "checkerboard": "A checkerboard of two classes: a classic for sine features.",
    "rings": "K concentric rings, one class each.",
    CUSTOM: "Only your own points: click on the plot to add them, or File > Import Points….",
}


class DataPanel(QWidget):
    """Edits a DataSpec; ``spec_changed`` fires with the new spec after each committed change."""

    spec_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._spec = DataSpec()

        self.dataset = QComboBox(self)
        self.dataset.setObjectName("dataset")
        for i, name in enumerate(DATASET_CHOICES):
            self.dataset.addItem(name.capitalize(), name)
            self.dataset.setItemData(i, DATASET_HELP[name], Qt.ItemDataRole.ToolTipRole)
        self.dataset.setToolTip(
            "Which dataset to learn: classes, or a regression (plane, multigauss); Custom is "
            "only your own points"
        )
        self.classes = QSpinBox(self)
        self.classes.setObjectName("classes")
        self.classes.setRange(2, MAX_CLASSES)
        self.classes.setKeyboardTracking(False)
        self.classes.setToolTip(
            f"How many classes ({', '.join(MULTICLASS_DATASETS)} and your own points): more "
            "than two need categorical cross-entropy"
        )

        self.points = QSpinBox(self)
        self.points.setObjectName("points")
        self.points.setRange(10, MAX_POINTS)
        self.points.setSingleStep(100)
        self.points.setToolTip("Training and test points together")

        self.test_percent = QSpinBox(self)
        self.test_percent.setObjectName("test_percent")
        self.test_percent.setRange(5, 95)
        self.test_percent.setSingleStep(5)
        self.test_percent.setSuffix(" % test")
        self.test_percent.setToolTip("Share of the points held out as the test set")

        self.noise = QSpinBox(self)
        self.noise.setObjectName("noise")
        self.noise.setRange(0, 50)
        self.noise.setSingleStep(5)
        self.noise.setSuffix(" %")
        self.noise.setToolTip(
            "Noise, 0 to 50 (TensorFlow Playground's scale); for the disk, the share of "
            "labels flipped"
        )

        self.seed = QSpinBox(self)
        self.seed.setObjectName("data_seed")
        self.seed.setRange(0, 2_000_000_000)
        self.seed.setToolTip("Seed of the points and of the split: the same seed, the same data")

        self.regenerate = QPushButton("Regenerate", self)
        self.regenerate.setObjectName("regenerate")
        self.regenerate.setToolTip("New points: the next seed")

        self.standardize = QCheckBox("Standardise inputs", self)
        self.standardize.setObjectName("standardize")
        self.standardize.setToolTip(
            "Scale each input feature to mean 0 and variance 1 (statistics of the training "
            "points); exported models fold this into their first layer"
        )

        for spin in (self.points, self.test_percent, self.noise, self.seed):
            spin.setKeyboardTracking(False)  # one change per committed value, not per keystroke

        self.added_label = QLabel(self)
        self.added_label.setObjectName("added_points")
        self.added_label.setWordWrap(True)
        self.added_label.setToolTip(
            "Points you clicked or imported: click the plot to add class 1, Shift+click for "
            "class 0, Ctrl+click removes the nearest point"
        )

        form = QFormLayout()
        form.addRow("&Dataset", self.dataset)
        form.addRow("Cl&asses", self.classes)
        form.addRow("&Points", self.points)
        form.addRow("Spl&it", self.test_percent)
        form.addRow("&Noise", self.noise)
        form.addRow("S&eed", self.seed)
        form.addRow("", self.regenerate)
        self.click_class = QSpinBox(self)
        self.click_class.setObjectName("click_class")
        self.click_class.setPrefix("class ")
        self.click_class.setRange(0, 1)
        self.click_class.setValue(1)
        self.click_class.setToolTip(
            "The class a click on the plot adds (Shift+click adds class 0); with more than two "
            "classes pick any of them here"
        )
        form.addRow("C&lick adds", self.click_class)
        form.addRow(self.added_label)

        self.feature_boxes: dict[str, QCheckBox] = {}
        features = QGroupBox("Input features", self)
        grid = QGridLayout(features)
        for i, name in enumerate(FEATURES):
            box = QCheckBox(FEATURE_LABELS[name], features)
            box.setObjectName(f"feature_{name}")
            box.setToolTip(f"Feed {FEATURE_LABELS[name]} to the network")
            self.feature_boxes[name] = box
            grid.addWidget(box, i // 2, i % 2)
            box.toggled.connect(self._commit)
        grid.addWidget(self.standardize, 4, 0, 1, 2)

        data_box = QGroupBox("Data", self)
        data_box.setLayout(form)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(data_box)
        layout.addWidget(features)
        layout.addStretch(1)

        self.set_spec(self._spec)
        self.dataset.currentIndexChanged.connect(self._commit)
        for spin in (self.classes, self.points, self.test_percent, self.noise, self.seed):
            spin.valueChanged.connect(self._commit)
        self.standardize.toggled.connect(self._commit)
        self.regenerate.clicked.connect(lambda: self.seed.setValue(self.seed.value() + 1))

    def spec(self) -> DataSpec:
        """The spec the panel shows."""
        return self._spec

    def set_spec(self, spec: DataSpec) -> None:
        """Show ``spec`` without emitting ``spec_changed``."""
        self._spec = spec
        widgets = [
            self.dataset,
            self.classes,
            self.points,
            self.test_percent,
            self.noise,
            self.seed,
            self.standardize,
            *self.feature_boxes.values(),
        ]
        for w in widgets:
            w.blockSignals(True)
        try:
            self.dataset.setCurrentIndex(max(0, self.dataset.findData(spec.dataset)))
            self.classes.setValue(spec.classes)
            self.points.setValue(spec.points)
            self.test_percent.setValue(round(spec.test_fraction * 100))
            self.noise.setValue(round(spec.noise * 100))
            self.seed.setValue(min(spec.seed, self.seed.maximum()))
            self.standardize.setChecked(spec.standardize)
            for name, box in self.feature_boxes.items():
                box.setChecked(name in spec.features)
        finally:
            for w in widgets:
                w.blockSignals(False)
        for w in (self.points, self.test_percent, self.noise, self.seed, self.regenerate):
            w.setEnabled(not spec.is_custom)
        self.classes.setEnabled(
            spec.task != REGRESSION and (spec.is_custom or spec.dataset in MULTICLASS_DATASETS)
        )
        self.click_class.setMaximum(spec.classes - 1)
        self.click_class.setEnabled(spec.task != REGRESSION)
        n_test = int(point_arrays(spec.added)[2].sum()) if spec.added else 0
        added = (
            f"Your points: {len(spec.added):,} ({len(spec.added) - n_test:,} train, "
            f"{n_test:,} test)"
            if spec.added
            else "Your points: none (click the plot to add)"
        )
        if spec.removed:
            added += f"; {len(spec.removed)} generated removed"
        self.added_label.setText(added)

    def _commit(self) -> None:
        features = tuple(name for name, box in self.feature_boxes.items() if box.isChecked())
        dataset = self.dataset.currentData()
        classes = self.classes.value()
        if dataset != self._spec.dataset and dataset != CUSTOM:
            # blobs and rings start with three classes; the other datasets have two (or are
            # regressions)
            classes = DEFAULT_CLASSES.get(dataset, 2)
        spec = replace(
            self._spec,
            dataset=dataset,
            classes=classes,
            points=self.points.value(),
            test_fraction=self.test_percent.value() / 100,
            noise=self.noise.value() / 100,
            seed=self.seed.value(),
            features=features,
            standardize=self.standardize.isChecked(),
        )
        old = self._spec
        generated = ("dataset", "classes", "points", "test_fraction", "noise", "seed")
        if any(getattr(spec, k) != getattr(old, k) for k in generated):
            spec = replace(spec, removed=())  # removed indices belong to the old points
        if spec != old:
            self.set_spec(spec)
            self.spec_changed.emit(spec)
