"""The house rule, checked: minidl computes its own gradients and never touches Qt or playground.

Two independent checks: every minidl source file is parsed and its imports (and ``torch.nn...``
attribute chains) are inspected wherever they sit, even inside functions; and a fresh interpreter
imports minidl and every submodule, then finds no Qt or playground module loaded.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import minidl

PACKAGE = Path(minidl.__file__).parent
SOURCES = sorted(PACKAGE.rglob("*.py"))

QT_AND_APP = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "playground")
# torch is minidl's array library; its autograd, layers and optimisers are not ours to use
FORBIDDEN = ("torch.nn", "torch.autograd", "torch.optim", *QT_AND_APP)
# the one exception: im2col and its adjoint, which convolutions may borrow
ALLOWED = {"torch.nn.functional.fold", "torch.nn.functional.unfold"}


def is_forbidden(name: str) -> bool:
    if name in ALLOWED:
        return False
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def violations(source: str) -> list[str]:
    """Each forbidden import, or use of a forbidden ``torch.x.y`` chain, as 'line N: name'."""
    tree = ast.parse(source)
    aliases: dict[str, str] = {}  # import torch as T  ->  T means torch
    inner: set[int] = set()  # attribute nodes inside a longer chain: only whole chains count
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases.update({a.asname: a.name for a in node.names if a.asname})
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
            inner.add(id(node.value))

    def chain(node: ast.Attribute) -> str | None:
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        return ".".join([aliases.get(node.id, node.id), *reversed(parts)])

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:  # relative: inside minidl
            names = [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Attribute) and id(node) not in inner:
            names = [name] if (name := chain(node)) else []
        else:
            continue
        found += [f"line {node.lineno}: {n}" for n in names if is_forbidden(n)]
    return found


@pytest.mark.parametrize(
    "path", SOURCES, ids=[str(p.relative_to(PACKAGE.parent)) for p in SOURCES]
)
def test_minidl_source_imports_no_torch_autograd_nn_optim_qt_or_playground(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "import torch.nn",
        "import torch.nn.functional as F",
        "from torch import nn",
        "from torch import autograd",
        "import torch.optim as optim",
        "from torch.nn import functional",
        "from torch.nn.functional import relu",
        "from torch.nn.functional import *",
        "import torch\ny = torch.nn.functional.relu(x)",
        "import torch as T\nT.autograd.grad(y, x)",
        "def later():\n    from PySide6.QtCore import QObject",
        "import pyqtgraph",
        "from playground import session",
    ],
)
def test_the_checker_catches_forbidden_uses(source: str) -> None:
    assert violations(source)


@pytest.mark.parametrize(
    "source",
    [
        "from torch.nn.functional import fold, unfold",
        "import torch\ncols = torch.nn.functional.unfold(x, 3)\nx = torch.nn.functional.fold(c)",
        "import torch\nwith torch.no_grad():\n    pass",
        "from . import functional as F\nfrom .nn import Linear",
        "import torch\ny = torch.matmul(a, b).sum()",
    ],
)
def test_the_checker_allows_fold_unfold_and_plain_torch(source: str) -> None:
    assert violations(source) == []


def test_importing_minidl_and_all_submodules_loads_no_qt() -> None:
    script = f"""
import importlib, pkgutil, sys
import minidl
for module in pkgutil.walk_packages(minidl.__path__, "minidl."):
    if not module.name.endswith(".__main__"):  # running it would start the command line
        importlib.import_module(module.name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {QT_AND_APP!r})
assert not loaded, f"importing minidl loaded {{loaded}}"
print(len([m for m in sys.modules if m.startswith("minidl")]))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
        cwd=PACKAGE.parent,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[-1]) >= len([p for p in SOURCES if p.stem != "__main__"])
