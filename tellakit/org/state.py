"""What ``pull`` has already brought into a destination folder, and its work area there.

``DEST/.tellakit-pull/`` holds ``state.json`` and one work folder per report being pulled
(downloads in progress, the report being assembled). A report is recorded in two steps around
the rename that makes it visible: first the chosen folder name, then "done". A run that was
killed in between finds the folder in DEST and records it done; one killed before the rename
finds no folder and pulls the report again. Nothing in a work folder is ever visible in DEST.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tellakit.errors import TellakitError
from tellakit.vault.fsutil import atomic_write

WORK_FOLDER = ".tellakit-pull"
STATE_FILE = "state.json"
#: In a report's work folder: the report being assembled (plaintext), then renamed into DEST.
ASSEMBLY = "report"
#: In a report's work folder: files being downloaded (``.part``), kept across runs.
DOWNLOADS = "downloads"
STATE_FORMAT = "tellakit-pull-state"
STATE_VERSION = 1


@dataclass
class PullState:
    """``state.json``: source URL of each report folder -> where it went in DEST."""

    dest: Path
    pulled: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def work(self) -> Path:
        """``DEST/.tellakit-pull``: hidden, holds the state and the work folders."""
        return self.dest / WORK_FOLDER

    @classmethod
    def load(cls, dest: Path) -> PullState:
        """Read the state of ``dest`` (empty when there is none yet) and settle a killed run."""
        state = cls(dest)
        path = state.work / STATE_FILE
        if path.exists():
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                doc = None
            if (
                not isinstance(doc, dict)
                or doc.get("format") != STATE_FORMAT
                or doc.get("version") != STATE_VERSION
                or not isinstance(doc.get("pulled"), dict)
            ):
                raise TellakitError(
                    f"{path} is not a tellakit pull state; move it away to pull everything again."
                )
            state.pulled = doc["pulled"]
        state._settle()
        return state

    def _settle(self) -> None:
        changed = False
        for source, entry in list(self.pulled.items()):
            if entry.get("done"):
                continue
            if (self.dest / entry["dest"]).is_dir():
                entry["done"] = True
            else:
                del self.pulled[source]
            changed = True
        if changed:
            self.save()

    def remove_leftovers(self) -> None:
        """Delete reports half-assembled by a killed run (their downloads stay, to resume)."""
        if not self.work.is_dir():
            return
        for folder in self.work.iterdir():
            if (folder / ASSEMBLY).is_dir():
                shutil.rmtree(folder / ASSEMBLY)

    def save(self) -> None:
        """Write ``state.json`` atomically."""
        self.work.mkdir(parents=True, exist_ok=True)
        doc = {"format": STATE_FORMAT, "version": STATE_VERSION, "pulled": self.pulled}
        atomic_write(self.work / STATE_FILE, (json.dumps(doc, indent=1) + "\n").encode("utf-8"))

    def is_pulled(self, source: str) -> bool:
        """True when the report folder at ``source`` is already in DEST."""
        return bool(self.pulled.get(source, {}).get("done"))

    def begin(self, source: str, folder: str) -> None:
        """Record the DEST folder name a report is about to be renamed to."""
        self.pulled[source] = {"dest": folder, "done": False}
        self.save()

    def finish(self, source: str) -> None:
        """Record that the report's folder is in place."""
        entry = self.pulled[source]
        entry["done"] = True
        entry["pulled_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.save()

    def work_folder(self, source: str) -> Path:
        """The work folder of one report (stable across runs, so downloads resume)."""
        return self.work / hashlib.sha256(source.encode("utf-8")).hexdigest()[:20]
