"""Background submission of reports from the vault to Nextcloud.

``Submitter`` sends reports in worker threads (submit, submit later, the whole outbox; pause,
resume, delete), records every step in the vault so a killed process resumes where it stopped,
and publishes ``ProgressEvent``s. ``connect`` / ``disconnect`` manage the vault's one connection.
The engine holds no UI code; views subscribe to events.
"""

from __future__ import annotations

from tellakit.engine.chunking import Tuning
from tellakit.engine.connect import connect, disconnect, finish_login, start_login
from tellakit.engine.events import FileProgress, ProgressEvent, ReportProgress
from tellakit.engine.progress import ReportProgressBar
from tellakit.engine.submitter import Submitter

__all__ = [
    "FileProgress",
    "ProgressEvent",
    "ReportProgress",
    "ReportProgressBar",
    "Submitter",
    "Tuning",
    "connect",
    "disconnect",
    "finish_login",
    "start_login",
]
