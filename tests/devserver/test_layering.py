"""tellakit.devserver stays standalone: it imports only itself, the stdlib, wsgidav, cheroot."""

from __future__ import annotations

import ast
from pathlib import Path

import tellakit.devserver

PACKAGE = Path(tellakit.devserver.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_devserver_imports_nothing_else_from_tellakit():
    offenders = {
        f"{path.name}: {name}"
        for path in PACKAGE.glob("*.py")
        for name in imported_modules(path)
        if name.startswith("tellakit") and not name.startswith("tellakit.devserver")
    }
    assert offenders == set()


def test_destination_with_dot_segments_is_refused(devserver):
    import requests

    devserver.add_user("bob", "pw")
    base = f"{devserver.url}/remote.php/dav/files/alice"
    auth = ("alice", "secret")
    assert requests.put(f"{base}/x.txt", data=b"x", auth=auth, timeout=10).status_code == 201
    r = requests.request(
        "MOVE",
        f"{base}/x.txt",
        auth=auth,
        timeout=10,
        headers={"Destination": f"{base}/../bob/x.txt"},
    )
    assert r.status_code == 403
    assert (devserver.files_root("alice") / "x.txt").exists()
    assert not (devserver.files_root("bob") / "x.txt").exists()
