"""Modules and classes stay small enough to extend safely (the project's rule: no module over
500 lines, no class over 300)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tuipacs"
MAX_MODULE = 500
MAX_CLASS = 300


def test_no_module_over_500_lines() -> None:
    big = {
        str(path.relative_to(PACKAGE)): count
        for path in PACKAGE.rglob("*.py")
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE
    }
    assert big == {}


def test_no_class_over_300_lines() -> None:
    big = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_CLASS:
                    big[f"{path.relative_to(PACKAGE)}:{node.name}"] = size
    assert big == {}
