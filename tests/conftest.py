"""Shared test set-up: Qt runs offscreen; hypothesis keeps runs short and deterministic; no test
leaves a thread, a worker process or a modal dialog behind."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import torch  # noqa: E402
from hypothesis import settings  # noqa: E402

# pytest-xdist runs one worker per core: one torch thread each avoids oversubscription
torch.set_num_threads(1)

settings.register_profile("default", max_examples=25, deadline=None, derandomize=True)
settings.load_profile("default")


# -- Qt: no test may leave a QThread running (napari's habit) ---------------------------------

import sys  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _no_running_qthreads(monkeypatch: pytest.MonkeyPatch):
    """Fail a test that leaves a QThread it started still running (and stop it)."""
    qtcore = sys.modules.get("PySide6.QtCore")
    if qtcore is None:  # engine tests never load Qt; nothing to watch
        yield
        return
    started: list = []
    original = qtcore.QThread.start

    def start(self, *args, **kwargs):
        # hold the thread's parent too: if it were collected mid-test, Qt would abort the whole
        # run ("QThread: Destroyed while thread is still running") before we could report it
        started.append((self, self.parent()))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(qtcore.QThread, "start", start)
    yield
    running = []
    for thread, _parent in started:
        try:
            if thread.isRunning():
                running.append(thread.objectName() or repr(thread))
                thread.requestInterruption()
                thread.quit()
                if not thread.wait(3000):
                    thread.terminate()  # only on this failure path, so the run can go on
                    thread.wait()
        except RuntimeError:  # the C++ thread object is already deleted: not running
            pass
    if running:
        pytest.fail(f"test left QThread(s) running: {', '.join(running)}")


@pytest.fixture(autouse=True)
def _no_worker_processes_left():
    """Fail a test that leaves a training worker process running (and end it)."""
    import multiprocessing

    before = set(multiprocessing.active_children())
    yield
    left = [p for p in multiprocessing.active_children() if p not in before]
    for process in left:
        process.join(3.0)  # a worker told to quit may still be on its way out
    alive = [p for p in left if p.is_alive()]
    for process in alive:
        process.terminate()
        process.join()
    if alive:
        pytest.fail(f"test left worker process(es) running: {alive}")


@pytest.fixture(autouse=True)
def _no_blocking_dialogs(monkeypatch: pytest.MonkeyPatch):
    """Fail a test that opens a modal message box it did not monkeypatch (offscreen, a real one
    would wait forever for a click); tests that expect a dialog patch it themselves."""
    widgets = sys.modules.get("PySide6.QtWidgets")
    if widgets is None:
        yield
        return

    def unexpected(*args, **kwargs):
        text = next((a for a in args if isinstance(a, str)), "")
        raise AssertionError(f"unexpected modal dialog: {text!r}")

    for name in ("question", "warning", "critical", "information", "about"):
        monkeypatch.setattr(widgets.QMessageBox, name, staticmethod(unexpected))
    yield


# QSettings of every test (and of the apps tests start) go to a throwaway folder, never the
# user's real configuration
os.environ["XDG_CONFIG_HOME"] = __import__("tempfile").mkdtemp(prefix="minidl-test-config-")
