"""Make the class-file screenshots in docs/screenshots/ from the real window (issue 13 item 6).

Run from the repository root: ``xvfb-run -s "-screen 0 1600x1000x24" python
docs/screenshots/make_class_screenshots.py``. It opens the example lesson (File > Examples >
Lesson find a good learning rate) the way a learner would, trains 40 epochs, and saves the
window (class-file.png); then the teacher's File > Save for Class… dialog with the "Only the
learning rate" preset and a note (save-for-class.png).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
OUT = Path(__file__).resolve().parent

from PySide6.QtWidgets import QApplication  # noqa: E402

from docs.screenshots.make_screenshots import shot, train_until_stopped, wait  # noqa: E402
from playground.document import read_experiment  # noqa: E402
from playground.files import save_picture  # noqa: E402
from playground.widgets.classroom_dialog import SaveForClassDialog  # noqa: E402
from playground.widgets.icons import RESOURCES  # noqa: E402
from playground.widgets.main_window import MainWindow  # noqa: E402

LESSON = RESOURCES / "examples" / "10-lesson-find-a-good-learning-rate.json"


def main() -> None:
    app = QApplication.instance() or QApplication([])
    experiment, _ = read_experiment(LESSON)
    # the lesson with a stop after 40 epochs, so the picture is the same each time
    window = MainWindow(experiment.replace(train=replace(experiment.train, max_epochs=40)))
    window.ask_before_closing = False
    window.show()
    wait(300)
    train_until_stopped(window)
    shot(window, "class-file.png")

    dialog = SaveForClassDialog(window, None, epoch=40)
    index = dialog.preset.findText("Only the learning rate")
    dialog.preset.setCurrentIndex(index)
    dialog.preset.activated.emit(index)
    dialog.note.setPlainText("Find the largest learning rate that still trains smoothly.")
    dialog.show()
    wait(300)
    save_picture(dialog.grab(), OUT / "save-for-class.png")
    print("wrote", OUT / "save-for-class.png")
    dialog.close()
    window.close()
    app.quit()


if __name__ == "__main__":
    main()
