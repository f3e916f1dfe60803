"""Lower layers never import upper ones (docs/architecture.md draws the layers)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tellakit"

# part -> tellakit parts it must never import (directly or through a submodule)
FORBIDDEN = {
    "errors": {"reports", "vault", "nextcloud", "engine", "ui", "summary", "batch", "cli"},
    "reports": {"vault", "nextcloud", "engine", "ui", "summary", "batch", "cli", "devserver"},
    "vault": {"nextcloud", "engine", "ui", "summary", "batch", "cli", "devserver", "sealed", "org"},
    "nextcloud": {
        *("vault", "reports", "engine", "ui", "summary", "batch", "cli", "devserver"),
        *("sealed", "org"),
    },
    "sealed": {
        "nextcloud",
        "reports",
        "engine",
        "ui",
        "summary",
        "batch",
        "cli",
        "devserver",
        "org",
    },
    "engine": {"ui", "summary", "batch", "cli", "devserver", "org"},
    "org": {"engine", "ui", "summary", "batch", "cli", "devserver"},
    "summary": {"ui", "cli", "devserver"},
    "batch": {"ui", "cli", "devserver"},
}


def tellakit_imports(path: Path) -> set[str]:
    """The tellakit parts a module imports, as the first name after ``tellakit.``."""
    parts: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
            if node.module == "tellakit":
                modules += [f"tellakit.{alias.name}" for alias in node.names]
        else:
            continue
        parts.update(m.split(".")[1] for m in modules if m.startswith("tellakit."))
    return parts


def modules_of(part: str) -> list[Path]:
    folder = PACKAGE / part
    return sorted(folder.rglob("*.py")) if folder.is_dir() else [PACKAGE / f"{part}.py"]


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_part_imports_no_upper_layer(part):
    offenders = [
        f"{path.relative_to(PACKAGE)} imports tellakit.{name}"
        for path in modules_of(part)
        for name in sorted(tellakit_imports(path) & FORBIDDEN[part])
    ]
    assert offenders == []


def test_the_checker_sees_an_upward_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from tellakit.engine import Submitter\nfrom tellakit import ui\n")
    assert tellakit_imports(module) == {"engine", "ui"}


def test_sealed_uses_only_the_age_part_of_the_vault():
    """The sealed layout's module is pure: of the vault it may use tellakit.vault.age only."""
    offenders = []
    for path in modules_of("sealed"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                name = node.module
                if name.startswith("tellakit.vault.") and not name.startswith("tellakit.vault.age"):
                    offenders.append(f"{path.name}: {name}")
                if name == "tellakit.vault":
                    offenders += [
                        f"{path.name}: tellakit.vault.{a.name}"
                        for a in node.names
                        if a.name != "age"
                    ]
    assert offenders == []
