"""tellakit: Tella's Nextcloud connection for Jupyter.

Collect evidence into an encrypted vault, write reports, and submit them to a Nextcloud server
with resumable, verified uploads::

    import tellakit
    vault = tellakit.create_vault("evidence", passphrase)
    report = vault.create_report("Market fire", "Seen at 14:00", [vault.import_path("a.jpg").id])
    tellakit.connect(vault, "https://cloud.example.org", "alice", app_password, "Tella")
    submitter = tellakit.Submitter(vault)
    submitter.submit(report.id)
    submitter.wait()
    tellakit.summary.reports(vault)

The vault and report model load at once; the engine, pandas summaries, batch manifests and
widgets load on first use, so ``import tellakit`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tellakit import errors
from tellakit.errors import TellakitError
from tellakit.reports import OUTBOX, Attachment, FileState, Report, Status, check_transition
from tellakit.vault import (
    BlobReader,
    ConnectionSettings,
    Vault,
    VaultFile,
    create_vault,
    open_vault,
)

__version__ = "0.1.0"

# Names re-exported lazily: attribute -> module that defines it.
_LAZY = {
    "Submitter": "tellakit.engine",
    "ProgressEvent": "tellakit.engine",
    "ReportProgress": "tellakit.engine",
    "connect": "tellakit.engine",
    "disconnect": "tellakit.engine",
    "start_login": "tellakit.engine",
    "finish_login": "tellakit.engine",
    "App": "tellakit.ui",
    "set_encrypt_to": "tellakit.sealed",
}
_LAZY_MODULES = {"summary", "batch", "ui", "engine", "nextcloud", "devserver", "sealed", "org"}

if TYPE_CHECKING:
    from tellakit import batch, engine, nextcloud, org, sealed, summary, ui
    from tellakit.engine import (
        ProgressEvent,
        ReportProgress,
        Submitter,
        connect,
        disconnect,
        finish_login,
        start_login,
    )
    from tellakit.sealed import set_encrypt_to
    from tellakit.ui import App


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _LAZY_MODULES:
        return importlib.import_module(f"tellakit.{name}")
    raise AttributeError(f"module 'tellakit' has no attribute {name!r}")


__all__ = [
    "OUTBOX",
    "App",
    "Attachment",
    "BlobReader",
    "ConnectionSettings",
    "FileState",
    "ProgressEvent",
    "Report",
    "ReportProgress",
    "Status",
    "Submitter",
    "TellakitError",
    "Vault",
    "VaultFile",
    "__version__",
    "batch",
    "check_transition",
    "connect",
    "create_vault",
    "disconnect",
    "engine",
    "errors",
    "finish_login",
    "nextcloud",
    "open_vault",
    "org",
    "sealed",
    "set_encrypt_to",
    "start_login",
    "summary",
    "ui",
]
