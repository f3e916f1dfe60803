"""Lower layers never import upper ones (docs/architecture.md draws the layers)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tellakit"
#: ``import tellakit`` / ``from tellakit import __version__``: the package root, whose
#: ``__init__`` re-exports every layer (engine, ui, ...), so a lower layer must never use it.
ROOT = "<package root>"

UPPER = {"engine", "ui", "summary", "batch", "cli", "console", "lab"}
# part -> tellakit parts it must never import (directly or through a submodule)
FORBIDDEN = {
    "errors": {ROOT, "reports", "vault", "nextcloud", "sealed", "org", *UPPER},
    "version": {ROOT, "errors", "reports", "vault", "nextcloud", "devserver", *UPPER},
    "labenv": {ROOT, "errors", "reports", "vault", "nextcloud", "devserver", *UPPER},
    "reports": {ROOT, "vault", "nextcloud", "devserver", "sealed", "org", *UPPER},
    "vault": {ROOT, "nextcloud", "devserver", "sealed", "org", *UPPER},
    "nextcloud": {ROOT, "vault", "reports", "devserver", "sealed", "org", *UPPER},
    # The sealed layout is pure (of the vault only its age part: see the test below).
    "sealed": {ROOT, "nextcloud", "reports", "devserver", "org", *UPPER},
    # org sits beside the engine (cli uses it).
    "org": {ROOT, "devserver", *UPPER},
    "engine": {ROOT, "devserver", "org", *UPPER - {"engine"}},
    "console": {ROOT, "devserver", *UPPER - {"console", "engine"}},
    "summary": {ROOT, "ui", "cli", "devserver", "lab", "console", "batch"},
    "batch": {ROOT, "ui", "cli", "devserver", "lab"},
    # The app: the engine and the vault through their public APIs; never the launcher or the
    # development server (the app must work against any Nextcloud).
    "ui": {ROOT, "cli", "lab", "devserver", "batch", "console"},
    # The launcher starts the development server and JupyterLab; the app runs in the kernel.
    "lab": {ROOT, "ui", "engine", "cli", "batch", "summary", "console", "vault"},
    # The launcher's parts: running a Jupyter server as a child (launch), that child's entry
    # point (jupyter_child), and the pre-save hook Jupyter imports (notebook_state). Leaves.
    "launch": {ROOT, "errors", "reports", "vault", "nextcloud", "devserver", *UPPER},
    "jupyter_child": {ROOT, "errors", "reports", "vault", "nextcloud", "devserver", *UPPER},
    "notebook_state": {ROOT, "errors", "reports", "vault", "nextcloud", "devserver", *UPPER},
}


def _part(name: str) -> str:
    """The tellakit part a name after ``tellakit.`` (or in ``from tellakit import``) means."""
    if (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file():
        return name
    return ROOT  # an attribute of the package root, e.g. __version__ or Submitter


def tellakit_imports(path: Path) -> set[str]:
    """The tellakit parts a module imports, as the first name after ``tellakit.``."""
    parts: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "tellakit":
                    parts.add(ROOT)
                elif alias.name.startswith("tellakit."):
                    parts.add(alias.name.split(".")[1])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "tellakit":
                parts.update(_part(alias.name) for alias in node.names)
            elif node.module.startswith("tellakit."):
                parts.add(node.module.split(".")[1])
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


def test_every_part_has_a_rule():
    parts = {p.stem for p in PACKAGE.glob("*.py")} | {
        p.name for p in PACKAGE.iterdir() if p.is_dir()
    }
    unruled = parts - set(FORBIDDEN) - {"__init__", "__pycache__", "cli", "devserver"}
    assert unruled == set()  # cli is the top; devserver has its own test (imports nothing)


def test_the_checker_sees_an_upward_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from tellakit.engine import Submitter\nfrom tellakit import ui\n")
    assert tellakit_imports(module) == {"engine", "ui"}


@pytest.mark.parametrize(
    "source",
    [
        "import tellakit\n",
        "from tellakit import __version__\n",
        "def f():\n    import tellakit\n    return tellakit.__version__\n",
    ],
)
def test_the_checker_sees_the_package_root(tmp_path, source):
    module = tmp_path / "m.py"
    module.write_text(source)
    assert tellakit_imports(module) == {ROOT}


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
