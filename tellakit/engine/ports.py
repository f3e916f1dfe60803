"""What the engine needs of the world: the vault, the protocol client, the chunked uploader.

The engine is written against these Protocols, not against ``Vault`` and ``NextcloudClient``
themselves, so it can be read (and tested) without either: ``tests/engine/fakes.py`` holds an
in-memory vault and server that satisfy them. ``client_for`` is the one place where the vault's
stored ``ConnectionSettings`` become the protocol layer's ``Credentials`` and a client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from tellakit.nextcloud.bulk import BulkItem, BulkReply
from tellakit.nextcloud.models import Capabilities, Credentials, DavEntry, PutResult, ServerDigest
from tellakit.reports import Report, Status
from tellakit.vault.models import ConnectionSettings

if TYPE_CHECKING:
    from tellakit.nextcloud import NextcloudClient

__all__ = [
    "BlobStream",
    "ChunkedUploadFactory",
    "ChunkedUploadPort",
    "ClientFactory",
    "ConnectionStore",
    "ProtocolClient",
    "ReportStore",
    "StoredFile",
    "client_for",
    "credentials_for",
]

ByteProgress = Callable[[int], None]


class Cancel(Protocol):
    """A pause/delete token as the protocol layer sees it (``threading.Event`` has it)."""

    def is_set(self) -> bool: ...


class BlobStream(Protocol):
    """A decrypting reader of one vault file (``BlobReader``): the body of an upload."""

    def read(self, n: int = -1, /) -> bytes | None: ...  # None: a non-blocking stream

    def seek(self, offset: int, /) -> Any: ...

    def tell(self) -> int: ...

    def __enter__(self) -> BlobStream: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> object: ...


class StoredFile(Protocol):
    """What the engine reads of a vault file's record (``VaultFile``)."""

    @property
    def imported_at(self) -> datetime: ...


class ReportStore(Protocol):
    """The part of the vault the engine uses: reports, their bookkeeping, files, connection."""

    @property
    def path(self) -> Path: ...

    def get_report(self, report_id: str) -> Report: ...

    def list_reports(self, status: Status | Iterable[Status] | None = None) -> list[Report]: ...

    def set_status(
        self, report_id: str, status: Status, *, reason: str | None, retryable: bool | None
    ) -> Report: ...

    def update_report_submission(self, report_id: str, **fields: Any) -> None: ...

    def update_attachment(self, report_id: str, attachment_id: str, **fields: Any) -> None: ...

    def delete_report(self, report_id: str) -> None: ...

    def get_connection(self) -> ConnectionSettings | None: ...

    def get_file(self, file_id: str) -> StoredFile: ...

    def open_file(self, file_id: str, *, check_sha256: bool = True) -> BlobStream: ...


class ConnectionStore(Protocol):
    """The part of the vault ``connect`` and ``disconnect`` use: its one connection."""

    def get_connection(self) -> ConnectionSettings | None: ...

    def set_connection(self, settings: ConnectionSettings) -> None: ...

    def delete_connection(self) -> None: ...


class ProtocolClient(Protocol):
    """What the engine asks of the server (``NextcloudClient``); paths are below the user's
    files root. Every method raises the ``tellakit.errors`` server errors, ``put`` and
    ``download_sha256`` also ``Cancelled`` when ``cancel`` is set. The server's digests
    (``recalculated_digest``, ``download_sha256``) are what verification reads; a stored
    ``oc:checksums`` claim is not offered here on purpose (see verification.py)."""

    def status(self) -> Mapping[str, Any]: ...

    def capabilities(self) -> Capabilities: ...

    def mkcol(self, path: str) -> bool: ...

    def ensure_folder(self, path: str) -> None: ...

    def put(
        self,
        path: str,
        stream: Any,
        size: int,
        *,
        on_progress: ByteProgress | None = None,
        cancel: Cancel | None = None,
        mtime: float | None = None,
        checksum_sha256_hex: str | None = None,
    ) -> PutResult: ...

    def propfind(self, path: str, depth: int = 1) -> list[DavEntry]: ...

    def stat(self, path: str) -> DavEntry | None: ...

    def bulk_upload(
        self,
        items: Sequence[BulkItem],
        *,
        on_progress: ByteProgress | None = None,
        cancel: Cancel | None = None,
    ) -> BulkReply: ...

    def recalculated_digest(self, path: str) -> ServerDigest | None: ...

    def download_sha256(
        self,
        path: str,
        *,
        cancel: Cancel | None = None,
        on_progress: ByteProgress | None = None,
    ) -> ServerDigest: ...

    def close(self) -> None: ...


class ChunkedUploadPort(Protocol):
    """One file's resumable chunked upload (``ChunkedUpload``)."""

    @property
    def protocol(self) -> int: ...

    def start(self) -> bool: ...

    def received_chunks(self) -> list[tuple[str, int]]: ...

    def upload_chunk(
        self,
        n: int,
        stream: Any,
        size: int,
        on_progress: ByteProgress | None,
        cancel: Cancel | None,
    ) -> None: ...

    def finish(self) -> PutResult: ...


class ChunkedUploadFactory(Protocol):
    """Makes a chunked upload (the ``ChunkedUpload`` class itself is one).

    ``client`` is the client the factory was paired with; it is typed loosely because the
    production class takes the concrete ``NextcloudClient``.
    """

    def __call__(
        self,
        client: Any,
        dest_path: str,
        total_size: int,
        transfer_id: str,
        *,
        chunk_size: int,
        mtime: float | None = None,
        protocol: int = 2,
    ) -> ChunkedUploadPort: ...


#: ConnectionSettings -> a client; the Submitter builds one per run of a report.
ClientFactory = Callable[[ConnectionSettings], ProtocolClient]


def credentials_for(settings: ConnectionSettings) -> Credentials:
    """The protocol layer's credentials for the vault's stored connection."""
    return Credentials(
        server_url=settings.server_url,
        login=settings.login,
        password=settings.password,
        allow_insecure_http=settings.allow_insecure_http,
    )


def client_for(settings: ConnectionSettings) -> NextcloudClient:
    """A NextcloudClient for the vault's connection (its user id is already known)."""
    from tellakit.nextcloud import NextcloudClient

    return NextcloudClient(credentials_for(settings), user_id=settings.user_id or None)


def default_chunked_upload() -> ChunkedUploadFactory:
    """The production chunked uploader (``tellakit.nextcloud.ChunkedUpload``)."""
    from tellakit.nextcloud import ChunkedUpload

    factory: ChunkedUploadFactory = ChunkedUpload
    return factory
