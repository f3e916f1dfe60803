"""Background submission of reports from the vault to Nextcloud.

``Submitter`` sends reports in worker threads (submit, submit later, the whole outbox; pause,
resume, delete), records every step in the vault so a killed process resumes where it stopped,
and publishes events (``ReportEvent``, ``FileEvent``, ``SettledEvent``); ``RetryPolicy`` says
when a stopped report is tried again. ``connect`` / ``disconnect`` manage the
vault's one connection. The engine holds no UI code; views subscribe to events, and the tqdm
bars live in ``tellakit.console``.
"""

from __future__ import annotations

from tellakit.engine.chunking import Tuning
from tellakit.engine.connect import (
    connect,
    disconnect,
    finish_login,
    set_auto_retry,
    start_login,
)
from tellakit.engine.events import (
    FileEvent,
    FileProgress,
    ProgressEvent,
    ReportEvent,
    ReportProgress,
    SettledEvent,
)
from tellakit.engine.ports import client_for
from tellakit.engine.retry import Backoff
from tellakit.engine.scheduler import RetryOutlook, RetryPolicy
from tellakit.engine.submitter import Submitter

__all__ = [
    "Backoff",
    "FileEvent",
    "FileProgress",
    "ProgressEvent",
    "ReportEvent",
    "ReportProgress",
    "RetryOutlook",
    "RetryPolicy",
    "SettledEvent",
    "Submitter",
    "Tuning",
    "client_for",
    "connect",
    "disconnect",
    "finish_login",
    "set_auto_retry",
    "start_login",
]
