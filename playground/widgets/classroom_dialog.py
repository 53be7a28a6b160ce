"""File > Save for Class…: choose what learners see and may change, panel by panel.

A tree of the window's panels and their controls with three exclusive check boxes a row: Show
(the learner may change it), Lock (shown, read-only) and Hide. A panel's row sets all its
controls (partly checked when they differ); a control can be set on its own. A box is missing
where a state does not apply (a plot cannot be locked; typing weights has nothing to hide).
Presets fill the tree for the usual lessons; a note for the learners goes in the banner.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..classroom import CONTROLS, MAX_NOTE, PANELS, Classroom, State

__all__ = ["PRESETS", "SaveForClassDialog"]

_LOCK, _SHOW = State.LOCK, State.SHOW
PRESETS: dict[str, Classroom] = {
    "Everything open": Classroom(),
    "Network locked": Classroom((("network", _LOCK),)),
    "Only the learning rate": Classroom(
        (
            ("training", _LOCK),
            ("training.play", _SHOW),
            ("training.reset", _SHOW),
            ("training.learning_rate", _SHOW),
            ("data", _LOCK),
            ("network", _LOCK),
        )
    ),
    "Watch and play only": Classroom(
        (
            ("training", _LOCK),
            ("training.play", _SHOW),
            ("training.reset", _SHOW),
            ("data", _LOCK),
            ("network", _LOCK),
        )
    ),
}
"""Starting points of the dialog, by name."""
_COLUMNS = (State.SHOW, State.LOCK, State.HIDE)
_NAME = Qt.ItemDataRole.UserRole


class SaveForClassDialog(QDialog):
    """Asks which panels and controls a class file shows, locks or hides; ``classroom()``."""

    def __init__(
        self,
        parent: QWidget | None = None,
        initial: Classroom | None = None,
        epoch: int | None = None,
        with_weights: bool = False,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("save_for_class_dialog")
        self.setWindowTitle("Save for Class")
        self._states: dict[str, State] = (initial or Classroom()).states()
        self._items: dict[str, QTreeWidgetItem] = {}
        self._refreshing = False

        intro = QLabel(
            "Choose what learners see and may change when they open the class file. "
            "<b>Lock</b> shows a control but it cannot be changed; <b>Hide</b> takes it off "
            "the screen (the file's value is used). Training stays reproducible: the same "
            "file trains the same way.",
            self,
        )
        intro.setWordWrap(True)
        self.preset = QComboBox(self)
        self.preset.setObjectName("class_preset")
        self.preset.addItem("Choose a preset…")
        self.preset.addItems(list(PRESETS))
        self.preset.setToolTip("Fill the tree for a usual lesson; change any row afterwards")
        self.preset.activated.connect(self._on_preset)

        self.tree = QTreeWidget(self)
        self.tree.setObjectName("class_tree")
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(["Panel or control", "Show", "Lock", "Hide"])
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        for panel in PANELS:
            top = QTreeWidgetItem(self.tree, [panel.title])
            top.setData(0, _NAME, panel.name)
            top.setToolTip(0, panel.tip)
            top.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            self._items[panel.name] = top
            for control in panel.controls:
                item = QTreeWidgetItem(top, [control.title])
                item.setData(0, _NAME, control.name)
                item.setToolTip(0, control.tip)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                for column, state in enumerate(_COLUMNS, start=1):
                    if state not in control.states:
                        item.setText(column, "–")
                        item.setToolTip(column, f"{control.title} cannot be {_verb(state)}")
                self._items[control.name] = item
        self.tree.expandAll()
        self.tree.itemChanged.connect(self._on_item_changed)

        self.note = QPlainTextEdit(self)
        self.note.setObjectName("class_note")
        self.note.setPlaceholderText(
            "A note for learners, shown in the class file's banner (optional): the task, "
            "what to look for…"
        )
        self.note.setPlainText((initial or Classroom()).note)
        self.note.setFixedHeight(70)
        self.weights = QCheckBox(
            f"Include the trained weights (epoch {epoch})"
            if epoch is not None
            else "Include the trained weights",
            self,
        )
        self.weights.setObjectName("class_weights")
        self.weights.setToolTip("Learners start from these weights instead of fresh ones")
        self.weights.setChecked(with_weights and epoch is not None)
        self.weights.setEnabled(epoch is not None)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Save).setText("Save…")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("&Preset", self.preset)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.tree, 1)
        note_label = QLabel("&Note for learners", self)
        note_label.setBuddy(self.note)
        layout.addWidget(note_label)
        layout.addWidget(self.note)
        layout.addWidget(self.weights)
        layout.addWidget(buttons)
        self.resize(540, 740)
        self._refresh()

    # -- reading and setting ------------------------------------------------------------------

    def classroom(self) -> Classroom:
        """The classroom chosen: the tree's states and the note."""
        return Classroom.from_states(self._states, self.note.toPlainText().strip()[:MAX_NOTE])

    def with_weights(self) -> bool:
        """Whether the class file carries the trained weights."""
        return self.weights.isChecked()

    def state(self, control: str) -> State:
        """The state chosen for a control."""
        return self._states[control]

    def set_state(self, name: str, state: State) -> None:
        """Put a control, or every control of a panel (as far as each can be), in ``state``."""
        if name in CONTROLS:
            if state in CONTROLS[name].states:
                self._states[name] = state
        else:
            for control in next(p for p in PANELS if p.name == name).controls:
                self._states[control.name] = control.fit(state)
        self._refresh()

    def set_classroom(self, classroom: Classroom) -> None:
        """Show ``classroom``'s states (a preset's), keeping the note."""
        self._states = classroom.states()
        self._refresh()

    # -- the tree ---------------------------------------------------------------------------

    def _on_preset(self, index: int) -> None:
        if index > 0:
            self.set_classroom(PRESETS[self.preset.itemText(index)])

    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._refreshing or column == 0:
            return
        if item.checkState(column) != Qt.CheckState.Unchecked:
            self.set_state(item.data(0, _NAME), _COLUMNS[column - 1])
        else:
            self._refresh()  # one box of a row is always ticked: unticking it changes nothing

    def _refresh(self) -> None:
        self._refreshing = True
        try:
            for panel in PANELS:
                top = self._items[panel.name]
                for column, state in enumerate(_COLUMNS, start=1):
                    able = [c for c in panel.controls if state in c.states]
                    chosen = sum(self._states[c.name] is state for c in able)
                    if not able:
                        continue
                    check = (
                        Qt.CheckState.Checked
                        if chosen == len(able)
                        else Qt.CheckState.PartiallyChecked
                        if chosen
                        else Qt.CheckState.Unchecked
                    )
                    top.setCheckState(column, check)
                for control in panel.controls:
                    item = self._items[control.name]
                    for column, state in enumerate(_COLUMNS, start=1):
                        if state in control.states:
                            checked = self._states[control.name] is state
                            item.setCheckState(
                                column,
                                Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked,
                            )
        finally:
            self._refreshing = False


def _verb(state: State) -> str:
    return {State.SHOW: "shown", State.LOCK: "locked", State.HIDE: "hidden"}[state]
