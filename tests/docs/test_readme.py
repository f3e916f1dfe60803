"""README.md's Python examples run as written against the development server.

The test extracts the code block after each ``<!-- readme-example: NAME ... -->`` marker,
replaces the example server address with the development server's, and executes it with the
names the README says the reader provides (``passphrase``, ``app_password``). So the README
cannot drift from the API without this test failing.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
EXAMPLE_URL = "https://cloud.example.org"
MARKER = re.compile(r"<!-- readme-example: ([\w-]+).*?-->\s*```python\n(.*?)```", re.S)


def examples() -> dict[str, str]:
    """The README's marked Python examples, by name."""
    return {name: code for name, code in MARKER.findall(README.read_text(encoding="utf-8"))}


def run(code: str, namespace: dict[str, Any]) -> Any:
    """Execute ``code`` like a notebook cell: the value of a final expression is returned."""
    tree = ast.parse(code)
    last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    if last is not None:
        tree.body.pop()
    exec(compile(tree, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    if last is None:
        return None
    return eval(compile(ast.Expression(last.value), "README.md", "eval"), namespace)  # noqa: S307


def with_server(code: str, url: str) -> str:
    assert EXAMPLE_URL in code, "the example no longer names the example server address"
    return code.replace(EXAMPLE_URL, url)


def test_the_readme_marks_the_three_examples() -> None:
    assert set(examples()) == {"connect", "submit", "login-flow"}


def test_the_submit_example_is_five_lines_after_the_import() -> None:
    lines = [line for line in examples()["submit"].splitlines() if line.strip()]
    assert lines[0] == "import tellakit"
    assert len(lines[1:]) == 5


@pytest.mark.timeout(120)
def test_connect_then_submit_examples_submit_a_report_and_show_it(
    devserver, tmp_path, monkeypatch
) -> None:
    pytest.importorskip("pandas", reason="pandas not installed")
    monkeypatch.chdir(tmp_path)
    photo = b"\xff\xd8\xff\xe0 not really a JPEG " * 1000
    notes = b"Two trucks, 14:05.\n"
    Path("photo.jpg").write_bytes(photo)
    Path("notes.txt").write_bytes(notes)
    app_password = devserver.create_app_password("alice")
    code = examples()
    ns: dict[str, Any] = {"passphrase": "readme example passphrase", "app_password": app_password}
    run(with_server(code["connect"], devserver.url), ns)

    ns = {"passphrase": "readme example passphrase"}
    try:
        frame = run(code["submit"], ns)
    finally:
        if "submitter" in ns:
            ns["submitter"].close()
    try:
        assert list(frame["title"]) == ["Market fire"]
        assert list(frame["status"].astype(str)) == ["submitted"]
        assert list(frame["files"]) == [2]
        folder = devserver.files_root("alice") / "Tella" / "Market fire"
        assert (folder / "photo.jpg").read_bytes() == photo
        assert (folder / "notes.txt").read_bytes() == notes
        assert (folder / "description.txt").read_text().startswith("Seen from the bridge")
    finally:
        ns["vault"].close()


@pytest.mark.timeout(60)
def test_login_flow_example_connects_with_an_app_password(devserver, tmp_path) -> None:
    import tellakit

    vault = tellakit.create_vault(tmp_path / "vault", "login flow example", work_factor=10)

    def person_reads_and_grants(*args: object) -> None:
        """Stands in for print(): the person opens the address and clicks Grant access."""
        assert any(str(a).startswith(devserver.url + "/") for a in args)
        devserver.approve_login_flow("alice")

    ns: dict[str, Any] = {"tellakit": tellakit, "vault": vault, "print": person_reads_and_grants}
    try:
        run(with_server(examples()["login-flow"], devserver.url), ns)
        settings = vault.get_connection()
        assert settings is not None and settings.is_app_password
        assert settings.user_id == "alice" and settings.root_folder == "Tella"
    finally:
        vault.close()
