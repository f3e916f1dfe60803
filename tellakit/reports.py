"""Reports, their attachments, and the states a report may pass through (pure model, no I/O).

A report starts as a draft (editable), enters the outbox (queued, uploading, paused,
interrupted) and ends submitted. Once in the outbox it never becomes a draft again, as in Tella.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Protocol

from tellakit.errors import InvalidTransition

__all__ = [
    "CHECKED",
    "OUTBOX",
    "RESUMABLE",
    "SETTLED",
    "STOPPED",
    "TRANSITIONS",
    "Attachment",
    "FileState",
    "Report",
    "Status",
    "Verification",
    "check_transition",
]


class _Stored(str, Enum):
    """An enum whose values are what the index stores; ``str()`` gives that value."""

    def __str__(self) -> str:
        return self.value


class Status(_Stored):
    """Where a report is in its life; the values are what the index stores."""

    DRAFT = "draft"
    QUEUED = "queued"  # outbox: "Submit later"
    UPLOADING = "uploading"  # outbox: a worker is sending it
    PAUSED = "paused"  # outbox: the user paused it
    INTERRUPTED = "interrupted"  # outbox: stopped by an error; reason (+ retryable) says why
    SUBMITTED = "submitted"


OUTBOX: frozenset[Status] = frozenset(
    {Status.QUEUED, Status.UPLOADING, Status.PAUSED, Status.INTERRUPTED}
)
#: Stopped in the outbox with a reason: by the user (paused) or by an error (interrupted).
STOPPED: frozenset[Status] = frozenset({Status.PAUSED, Status.INTERRUPTED})
#: Where a report rests once no worker holds it: submitted, or stopped. (The engine calls a
#: report *settled* when it rests here and no automatic retry is pending.)
SETTLED: frozenset[Status] = frozenset({Status.SUBMITTED}) | STOPPED
#: Outbox states a person can send (again): "Submit" for queued, "Resume" for stopped ones.
RESUMABLE: frozenset[Status] = frozenset({Status.QUEUED}) | STOPPED

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.DRAFT: frozenset({Status.QUEUED, Status.UPLOADING}),
    Status.QUEUED: frozenset({Status.UPLOADING, Status.PAUSED}),
    Status.UPLOADING: frozenset(
        {Status.PAUSED, Status.INTERRUPTED, Status.SUBMITTED, Status.QUEUED}
    ),
    Status.PAUSED: frozenset({Status.UPLOADING, Status.QUEUED}),
    Status.INTERRUPTED: frozenset({Status.UPLOADING, Status.QUEUED, Status.PAUSED}),
    Status.SUBMITTED: frozenset(),
}


def check_transition(current: Status, new: Status) -> None:
    """Raise InvalidTransition (naming both states) unless ``current -> new`` is allowed."""
    current, new = Status(current), Status(new)
    if new in TRANSITIONS[current]:
        return
    if current is Status.SUBMITTED:
        why = "a submitted report is final"
    elif new is Status.DRAFT:
        why = "a report in the outbox cannot become a draft again"
    elif current is new:
        why = f"the report is already {current.value}"
    else:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current]))
        why = f"from {current.value} it can only go to {allowed}"
    raise InvalidTransition(current.value, new.value, why)


class FileState(_Stored):
    """Submission state of one attachment.

    A file ends VERIFIED when a SHA-256 the server computed from the bytes it holds matched,
    or SIZE_CHECKED when the server offered none and the connection asks for the size only
    (its content was not verified). ``Attachment.verification`` says how.
    """

    PENDING = "pending"
    UPLOADING = "uploading"
    UPLOADED = "uploaded"
    VERIFIED = "verified"
    SIZE_CHECKED = "size_checked"
    FAILED = "failed"


#: File states whose check after the upload is done: the file is on the server for good.
CHECKED: frozenset[FileState] = frozenset({FileState.VERIFIED, FileState.SIZE_CHECKED})


class Verification(_Stored):
    """How a file was found to be on the server intact; the values are what the index stores.

    Only a SHA-256 the server computed from the bytes it holds (or that tellakit computed from
    the bytes it downloaded back) verifies the content; a checksum tellakit sent never does.
    """

    #: the ``X-Hash-SHA256`` answer of its PUT or final MOVE (hashed as the server wrote it)
    SERVER_SHA256 = "server_sha256"
    #: ``PATCH`` with ``X-Recalculate-Hash``: the server read the stored file back and hashed it
    RECALCULATED = "recalculated"
    #: tellakit downloaded the stored file and hashed it (every byte crossed the link twice)
    DOWNLOAD = "download"
    #: the server offered no digest and the connection asks for no download: size only
    SIZE_ONLY = "size_only"

    @property
    def content_verified(self) -> bool:
        """True when the content itself was compared (everything but SIZE_ONLY)."""
        return self is not Verification.SIZE_ONLY

    @property
    def label(self) -> str:
        """What views show: a few words, never a check mark for SIZE_ONLY."""
        return _VERIFICATION_LABELS[self]


_VERIFICATION_LABELS = {
    Verification.SERVER_SHA256: "server SHA-256",
    Verification.RECALCULATED: "recalculated by the server",
    Verification.DOWNLOAD: "downloaded and hashed",
    Verification.SIZE_ONLY: "size checked, content not verified",
}


class _FileLike(Protocol):
    """What ``Report.attach`` needs of a vault file (tellakit.vault.VaultFile has it)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def mime(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def sha256(self) -> str: ...


@dataclass
class Attachment:
    """One file of one report; name, MIME, size and SHA-256 copied from the vault file."""

    id: str
    file_id: str
    name: str
    mime: str
    size: int
    sha256: str
    position: int
    # submission bookkeeping, written by the engine through Vault.update_attachment
    state: FileState = FileState.PENDING
    bytes_sent: int = 0
    remote_name: str | None = None
    remote_path: str | None = None
    transfer_id: str | None = None
    chunk_size: int | None = None
    checksum: str | None = None  # "SHA256:<hex>" the server computed; None for size only
    verified_at: datetime | None = None
    error: str | None = None
    #: The chunked upload's chunks after the confirmed run (JSON, engine/chunkmap.py).
    chunk_map: str | None = None
    #: how the file was checked once it is VERIFIED or SIZE_CHECKED
    verification: Verification | None = None
    #: the server's digest learned while uploading ("<kind>:<hex>", e.g. the X-Hash answer of
    #: the final MOVE), kept so a restart between upload and verification does not lose it
    server_digest: str | None = None
    #: times the file was sent again from the start after its verification failed
    resends: int = 0
    # sealed layout (engine/sealing.py): this file's age key, header and nonce
    # (``SealedKey.dumps()``), fixed before its first byte is sent; and the SHA-256 of the
    # ciphertext once known. None in the readable layout.
    sealed_key: str | None = field(default=None, repr=False)
    sealed_sha256: str | None = None


BOOKKEEPING_FIELDS = frozenset(
    {
        "state",
        "bytes_sent",
        "remote_name",
        "remote_path",
        "transfer_id",
        "chunk_size",
        "checksum",
        "verified_at",
        "error",
        "chunk_map",
        "verification",
        "server_digest",
        "resends",
        "sealed_key",
        "sealed_sha256",
    }
)
SUBMISSION_FIELDS = frozenset(
    {
        "remote_folder",
        "description_sent",
        "manifest_sent",
        "attempts",
        "submitted_at",
        "sealed_to",
        "readable_names",
        "description_key",
    }
)


@dataclass
class Report:
    """A report: title, description, attachments, and where it is on its way to the server."""

    id: str
    title: str
    description: str
    status: Status
    reason: str | None
    retryable: bool | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    remote_folder: str | None
    description_sent: bool
    manifest_sent: bool
    attempts: int
    attachments: list[Attachment] = field(default_factory=list)
    # How the report goes to the server, fixed when it leaves the draft state (or, queued
    # without a connection, when its first run starts): the age recipients it is sealed to
    # (empty: the readable layout; None: not fixed yet), whether a sealed report keeps its
    # readable folder name, and the description's age key (``SealedKey.dumps()``).
    sealed_to: tuple[str, ...] | None = None
    readable_names: bool = False
    description_key: str | None = field(default=None, repr=False)

    @property
    def editable(self) -> bool:
        """Only drafts can be edited."""
        return self.status is Status.DRAFT

    @property
    def sealed(self) -> bool:
        """True when the report goes (or went) to the server in the sealed layout."""
        return bool(self.sealed_to)

    @property
    def in_outbox(self) -> bool:
        """Queued, uploading, paused or interrupted."""
        return self.status in OUTBOX

    @property
    def total_bytes(self) -> int:
        """Sum of the attachments' sizes."""
        return sum(a.size for a in self.attachments)

    @property
    def bytes_sent(self) -> int:
        """Bytes of the attachments the server has acknowledged so far."""
        return sum(min(a.bytes_sent, a.size) for a in self.attachments)

    @property
    def file_count(self) -> int:
        """Number of attachments."""
        return len(self.attachments)

    def attach(self, file: _FileLike) -> Attachment:
        """Append ``file`` (a vault file) as a new attachment of this draft; save to keep it."""
        attachment = Attachment(
            id=uuid.uuid4().hex,
            file_id=file.id,
            name=file.name,
            mime=file.mime,
            size=file.size,
            sha256=file.sha256,
            position=len(self.attachments),
        )
        self.attachments.append(attachment)
        return attachment
