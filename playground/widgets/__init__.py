"""The playground's Qt widgets, one file per panel; the logic they show lives in playground/."""

from ..pyside_none_guard import guard_none_refcount

guard_none_refcount()
