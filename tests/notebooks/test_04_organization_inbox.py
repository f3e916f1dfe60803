"""Notebook 04 (the organization's inbox of sealed reports) runs top to bottom with nbclient
against the development server: reports are pulled verified, an altered file is named, the
server holds nothing readable of the sealed reports, and no credential is shown."""

from __future__ import annotations

import re

import pytest
from test_02_03 import USER, lab_env, output_text, run_notebook  # noqa: F401 - lab_env: fixture

NOTEBOOK = "04-organization-inbox.ipynb"
# Words of the sealed reports' titles, descriptions, file names and contents (notebook cells)
SEALED_MARKERS = [
    b"Market fire",
    b"seen on the way back",
    b"IMG_0001",
    b"witness",
    b"smoke over the market",
    b"Checkpoint closure",
    b"barrier",
    b"Closed from 06:00",
    b"Water point",
    b"pump.jpg",
    b"Flooded road",
    b"road.jpg",
]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_04_pulls_sealed_and_readable_reports_and_catches_the_altered_file(
    lab_env,  # noqa: F811 - the fixture imported above
    tmp_path,
):
    server, password = lab_env
    nb = run_notebook(NOTEBOOK, tmp_path)
    shown = output_text(nb)
    assert password not in shown
    assert shown.count("verified") >= 4
    assert "1.age (road.jpg) was altered on the server" in shown
    assert "the same as the field file: True" in shown
    assert "readable" in shown and "sealed" in shown
    root = server.files_root(USER) / "Org inbox demo"
    sealed = sorted(
        p for p in root.iterdir() if re.fullmatch(r"\d{4}-\d\d-\d\d \d{4} [0-9a-f]{4}", p.name)
    )
    assert len(sealed) == 4
    for folder in sealed:
        names = sorted(p.name for p in folder.iterdir())
        assert names[-2:] == ["description.txt.age", "manifest.json.age"]
        assert all(re.fullmatch(r"\d+\.age", n) for n in names[:-2])
    data = b"".join(p.read_bytes() for p in server.files_root(USER).rglob("*") if p.is_file())
    assert [m for m in SEALED_MARKERS if m in data] == []
    assert b"We call for" in data  # the readable report is in clear, as in Tella


def test_stored_notebook_04_shows_no_credentials():
    nbformat = pytest.importorskip("nbformat", reason="tellakit[lab] extra not installed")
    from test_02_03 import NOTEBOOKS

    nb = nbformat.read(NOTEBOOKS / NOTEBOOK, as_version=4)
    shown = output_text(nb).lower()
    assert "password" not in shown and "token" not in shown
    assert "age-secret-key" not in shown
    for cell in nb.cells:
        assert not re.search(r"password\s*=\s*[\"']", cell.source, re.IGNORECASE)
