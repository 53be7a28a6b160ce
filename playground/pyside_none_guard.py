"""A guard against PySide6 6.12.0's None reference leak on Python 3.11.

PySide6 6.12.0 returns ``None`` from every void method (``QLabel.setText``, ``QWidget.update``,
``processEvents``...) without taking a reference to it. On Python 3.12+ None is immortal and
nothing happens; on 3.11 each call lowers None's reference count by one, and after some
minutes of live plotting the interpreter aborts with "Fatal Python error: none_dealloc".
PySide6 6.11 is not affected. Until the pin excludes 6.12.0, we do what Python 3.12 does: make
None's count so large that no run can bring it down to zero.
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["guard_none_refcount"]

_IMMORTAL = 2**40  # a hundred days of 100,000 leaked references a second
_guarded = False


def guard_none_refcount() -> bool:
    """Raise None's reference count if this PySide6 leaks it; returns whether it did."""
    global _guarded
    if _guarded or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    import PySide6

    if tuple(PySide6.__version_info__[:3]) != (6, 12, 0):
        return False
    # ob_refcnt is the first field of every CPython object (a Py_ssize_t)
    ctypes.c_ssize_t.from_address(id(None)).value += _IMMORTAL
    _guarded = True
    return True
