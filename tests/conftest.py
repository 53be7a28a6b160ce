"""Shared test set-up: Qt runs offscreen; hypothesis keeps runs short and deterministic."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from hypothesis import settings  # noqa: E402

settings.register_profile("default", max_examples=25, deadline=None, derandomize=True)
settings.load_profile("default")
