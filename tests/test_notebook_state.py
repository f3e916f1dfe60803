"""The pre-save hook and the scrubber: the app's widget state never stays in a notebook file,
the rest of the notebook's widgets do."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from tellakit.notebook_state import WIDGET_STATE, drop_app_widget_state, main, pre_save_hook

SECRET = "Raid on the clinic at 03:00"


def model(name: str, classes: list[str] | None = None, **state: Any) -> dict[str, Any]:
    return {"model_name": name, "state": {"_dom_classes": classes or [], **state}}


def notebook(models: dict[str, Any]) -> dict[str, Any]:
    widgets = {WIDGET_STATE: {"state": models, "version_major": 2, "version_minor": 0}}
    return {"cells": [], "metadata": {"widgets": widgets}, "nbformat": 4, "nbformat_minor": 5}


def app_models() -> dict[str, Any]:
    return {
        "app": model("VBoxModel", ["tellakit-app"], children=["IPY_MODEL_body"]),
        "body": model("VBoxModel", children=["IPY_MODEL_desc", "IPY_MODEL_title"]),
        "desc": model("HTMLModel", value=f"<p>{SECRET}</p>", layout="IPY_MODEL_lay"),
        "title": model("TextModel", ["tk-title"], value=SECRET),
        "lay": {"model_name": "LayoutModel", "state": {"width": "40em"}},
    }


def test_the_apps_widgets_go_and_others_stay() -> None:
    nb = notebook({**app_models(), "slider": model("IntSliderModel", value=3)})
    assert drop_app_widget_state(nb)
    assert SECRET not in json.dumps(nb)
    assert set(nb["metadata"]["widgets"][WIDGET_STATE]["state"]) == {"slider"}


def test_a_widget_holding_the_app_goes_with_it() -> None:
    models = {**app_models(), "outer": model("VBoxModel", children=["IPY_MODEL_app"])}
    nb = notebook(models)
    drop_app_widget_state(nb)
    assert "widgets" not in nb["metadata"]  # nothing left at all


def test_a_notebook_without_the_app_is_left_alone() -> None:
    nb = notebook({"slider": model("IntSliderModel", value=3)})
    before = copy.deepcopy(nb)
    assert not drop_app_widget_state(nb) and nb == before
    assert not drop_app_widget_state({"cells": [], "metadata": {}})


def test_the_hook_changes_notebooks_only() -> None:
    nb = notebook(app_models())
    pre_save_hook({"type": "notebook", "content": nb}, path="x.ipynb", contents_manager=None)
    assert SECRET not in json.dumps(nb)
    text = {"type": "file", "content": SECRET}
    pre_save_hook(text, path="x.txt")
    assert text["content"] == SECRET


def test_the_scrubber_cleans_the_notebook_and_its_checkpoint(tmp_path: Path, capsys) -> None:
    path = tmp_path / "01.ipynb"
    checkpoint = tmp_path / ".ipynb_checkpoints" / "01-checkpoint.ipynb"
    checkpoint.parent.mkdir()
    for target in (path, checkpoint):
        target.write_text(json.dumps(notebook(app_models())))
    assert main([str(path)]) == 0
    assert SECRET not in path.read_text() and SECRET not in checkpoint.read_text()
    assert json.loads(path.read_text())["nbformat"] == 4
    assert main([str(path)]) == 0
    assert "no widget state of the app" in capsys.readouterr().out
