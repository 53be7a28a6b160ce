"""Shared test set-up: Qt runs offscreen; hypothesis keeps runs short and deterministic."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import torch  # noqa: E402
from hypothesis import settings  # noqa: E402

# pytest-xdist runs one worker per core: one torch thread each avoids oversubscription
torch.set_num_threads(1)

settings.register_profile("default", max_examples=25, deadline=None, derandomize=True)
settings.load_profile("default")
