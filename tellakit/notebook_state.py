"""Keep the app's widget state out of saved notebooks.

JupyterLab and Notebook 7 can save the state of every live widget into the notebook file
(``metadata.widgets``; JupyterLab's *Settings › Save Widget State Automatically*). For
tellakit's app that state is what was on screen: a report's title and description as typed, file
names, a submitted report's description. ``pre_save_hook`` is a Jupyter contents-manager hook
that removes the app's widgets from that state before the file is written (the checkpoint is a
copy of the written file, so it is clean too); other widgets of the notebook are kept.
``tellakit lab`` and ``tellakit app`` install it; in plain Jupyter, add to
``jupyter_server_config.py``::

    c.ContentsManager.pre_save_hook = "tellakit.notebook_state.pre_save_hook"

State saved earlier is removed with ``python -m tellakit.notebook_state NOTEBOOK...`` (the
notebook and its checkpoint). See docs/security.md.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["drop_app_widget_state", "pre_save_hook", "scrub"]

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MODEL_REF = "IPY_MODEL_"


def _is_app_model(model: Mapping[str, Any]) -> bool:
    """A widget of tellakit's app: its CSS classes say so (every screen and control has one)."""
    state = model.get("state") or {}
    classes = state.get("_dom_classes") or ()
    if any(c == "tellakit-app" or str(c).startswith("tk-") for c in classes):
        return True
    return str(state.get("_anywidget_id", "")).startswith("tellakit.")


def _refs(value: Any) -> Iterator[str]:
    """The model ids a widget's state points to (children, layout, style, ...)."""
    if isinstance(value, str):
        if value.startswith(MODEL_REF):
            yield value[len(MODEL_REF) :]
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _refs(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _refs(item)


def _app_models(models: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The app's widgets, what they contain, and whatever contains them (an App put in a VBox
    takes the VBox along, so no saved widget is left pointing at a missing one)."""
    refs = {mid: set(_refs(m.get("state"))) for mid, m in models.items()}
    drop = {mid for mid, m in models.items() if _is_app_model(m)}
    while True:
        grown = set(drop)
        for mid in drop:
            grown |= refs.get(mid, set()) & models.keys()  # what an app widget contains
        grown |= {mid for mid, r in refs.items() if r & drop}  # what contains an app widget
        if grown == drop:
            return drop
        drop = grown


def drop_app_widget_state(notebook: dict[str, Any]) -> bool:
    """Remove the app's widgets from a notebook's saved widget state; True if any were there."""
    widgets = notebook.get("metadata", {}).get("widgets")
    if not isinstance(widgets, dict) or not isinstance(widgets.get(WIDGET_STATE), dict):
        return False
    saved = widgets[WIDGET_STATE]
    models = saved.get("state")
    if not isinstance(models, dict):
        return False
    drop = _app_models(models)
    if not drop:
        return False
    for mid in drop:
        del models[mid]
    if not models:
        del widgets[WIDGET_STATE]
    if not widgets:
        del notebook["metadata"]["widgets"]
    return True


def pre_save_hook(model: dict[str, Any], **_: Any) -> None:
    """Jupyter's ``ContentsManager.pre_save_hook``: runs on every save, before writing."""
    if model.get("type") == "notebook" and isinstance(model.get("content"), dict):
        drop_app_widget_state(model["content"])


def _checkpoint(path: Path) -> Path:
    return path.parent / ".ipynb_checkpoints" / f"{path.stem}-checkpoint{path.suffix}"


def scrub(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the app's saved widget state from a notebook and its checkpoint; returns the
    files that changed."""
    changed: list[Path] = []
    for target in (Path(path), _checkpoint(Path(path))):
        if not target.exists():
            continue
        notebook = json.loads(target.read_text(encoding="utf-8"))
        if drop_app_widget_state(notebook):
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", "utf-8")
            os.replace(tmp, target)
            changed.append(target)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tellakit.notebook_state NOTEBOOK...``"""
    paths: Iterable[str] = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m tellakit.notebook_state NOTEBOOK.ipynb...", file=sys.stderr)
        return 2
    for path in paths:
        changed = scrub(path)
        for target in changed:
            print(f"removed the app's widget state from {target}")
        if not changed:
            print(f"{path}: no widget state of the app")
    return 0


if __name__ == "__main__":
    sys.exit(main())
