"""Sending one attachment from the vault to the server: one PUT, or a resumable chunked upload.

What the body is comes from the report's wire (sealing.py): its size, a seekable reader of its
bytes (the vault's decrypting BlobReader, or the SealedReader that encrypts it again for the
organization), the mtime and checksum to announce and the digest to expect. Offsets, chunk
sizes and byte counts below are of those bytes. Plaintext only ever exists in memory: the
vault's reader decrypts (and authenticates) as the request body is read, one age chunk at a
time, and seeks to the first byte a resumed upload still needs.

A chunked upload records in the index, in this order: the transfer id (before the MKCOL that
creates the upload folder), the size of the chunk about to be sent (before sending it), and
the byte count confirmed (after the server answered). Resume lists the upload folder (PROPFIND)
and trusts the chunks the index confirms plus, at most, the one that was in flight if its size
is exactly what was being sent; everything after that is sent again. So a cut or a kill re-sends
at most the one chunk that was in flight. When the server refused chunking v2 (MKCOL with
Destination) and the upload fell back to v1, the stored transfer id gets a ``v1:`` prefix right
after that MKCOL, so a resume speaks v1 too (a kill between the two would resume as v2).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from tellakit.engine.chunking import ChunkSizer, Tuning
from tellakit.engine.confirm import Confirmed, ConfirmedHook, Piece, ignore
from tellakit.engine.control import StopToken, check
from tellakit.engine.ports import (
    BlobStream,
    ChunkedUploadFactory,
    ChunkedUploadPort,
    ProtocolClient,
)
from tellakit.engine.sealing import WireFile
from tellakit.engine.verification import Verifier, encode_digest
from tellakit.errors import ResourceLocked, UploadExpired, VaultError
from tellakit.nextcloud.models import PutResult, ServerDigest
from tellakit.reports import Attachment, FileState

log = logging.getLogger(__name__)

Progress = Callable[[int], None]  # running byte count of this file
T = TypeVar("T")
#: Waits before re-sending a request the server answered 423 Locked.
LOCK_RETRY_DELAYS = (0.5, 1.0, 2.0)


class AttachmentStore(Protocol):
    """The part of the Vault a transfer uses (kept small so it is easy to reason about)."""

    def update_attachment(self, report_id: str, attachment_id: str, **fields: Any) -> None: ...


class GuardedReader:
    """A view of the vault reader that remembers the first vault error it raised.

    The protocol layer may turn an exception raised inside a request body into a transport
    error; this keeps the real cause (e.g. VaultCorrupted) so the engine reports it truly.
    """

    def __init__(self, reader: BlobStream):
        self._reader = reader
        self.error: VaultError | None = None

    def read(self, n: int = -1) -> bytes:
        try:
            data = self._reader.read(n)
            return b"" if data is None else bytes(data)
        except VaultError as exc:
            self.error = exc
            raise

    def readinto(self, buf: bytearray | memoryview) -> int:
        try:
            readinto = getattr(self._reader, "readinto", None)
            if readinto is not None:
                return int(readinto(buf))
            data = self._reader.read(len(buf)) or b""
            buf[: len(data)] = data
            return len(data)
        except VaultError as exc:
            self.error = exc
            raise

    def seek(self, offset: int) -> None:
        self._reader.seek(offset)


#: Prefix of a stored transfer id whose upload fell back to chunking v1 (no prefix: v2).
V1_PREFIX = "v1:"


def stored_transfer_id(folder: str, protocol: int) -> str:
    """What the index keeps in ``transfer_id``: the upload folder, marked when it is v1."""
    return f"{V1_PREFIX}{folder}" if protocol == 1 else folder


def parse_transfer_id(stored: str) -> tuple[str, int]:
    """(upload folder name, chunking protocol) of a stored transfer id."""
    if stored.startswith(V1_PREFIX):
        return stored[len(V1_PREFIX) :], 1
    return stored, 2


@dataclass(frozen=True)
class ResumePoint:
    """Where a chunked upload goes on: byte offset and the next chunk number (1-based)."""

    offset: int
    next_number: int


def resume_point(
    received: list[tuple[str, int]], *, confirmed: int, in_flight: int | None, total: int
) -> ResumePoint:
    """Decide which received chunks to keep.

    Chunks are kept in number order while they lie within the ``confirmed`` byte count the index
    recorded; after that, one more is kept only when it starts exactly at ``confirmed`` and has
    exactly the size that was in flight (or completes the file), i.e. it arrived whole but the
    confirmation was never recorded. A partial or stray chunk ends the kept run.
    """
    sizes: dict[int, int] = {}
    for name, size in received:
        if name.isdigit():
            sizes[int(name)] = size
    offset, number = 0, 1
    while number in sizes:
        size = sizes[number]
        if size <= 0:
            break
        whole_in_flight = offset == confirmed and (size == in_flight or offset + size == total)
        if offset + size > confirmed and not whole_in_flight:
            break
        if offset + size > total:
            break
        offset += size
        number += 1
        if offset > confirmed:
            break  # only one unconfirmed chunk may be kept
    return ResumePoint(offset, number)


class FileTransfer:
    """Uploads one attachment to ``remote_path``; see the module docstring."""

    def __init__(
        self,
        *,
        vault: AttachmentStore,
        client: ProtocolClient,
        chunked_upload: ChunkedUploadFactory,
        report_id: str,
        attachment: Attachment,
        remote_path: str,
        body: WireFile,
        tuning: Tuning,
        token: StopToken,
        on_progress: Progress,
        verifier: Verifier,
        on_confirmed: ConfirmedHook = ignore,
        use_chunks: bool | None = None,
    ):
        self.vault = vault
        self.client = client
        self.chunked_upload = chunked_upload
        self.report_id = report_id
        self.att = attachment
        self.remote_path = remote_path
        self.body = body
        self.total = body.size  # bytes on the wire
        self.tuning = tuning
        self.token = token
        self.on_progress = on_progress
        self.on_confirmed = on_confirmed
        self.verifier = verifier
        self.use_chunks = tuning.use_chunks(self.total) if use_chunks is None else use_chunks
        self.requests_sent = 0

    def _update(self, **fields: Any) -> None:
        self.vault.update_attachment(self.report_id, self.att.id, **fields)
        for key, value in fields.items():
            setattr(self.att, key, value)

    def _open(self) -> BlobStream:
        """A reader of the body (see ``sealing._open_at``: every byte is authenticated as the
        vault's own as it is read, so a tampered blob raises VaultCorrupted mid-body and the
        upload is never completed; the SHA-256 is checked end to end after the upload)."""
        return self.body.open()

    def run(self) -> PutResult | None:
        """Send the file; returns the server's answer to the final PUT/MOVE (None if adopted).

        The server's digest in that answer (or the one that let a file already on the server be
        adopted) is recorded with the file as ``server_digest`` for the verification step.
        """
        check(self.token)
        self._update(state=FileState.UPLOADING, remote_path=self.remote_path, error=None)
        if self.use_chunks:
            return self._chunked()
        return self._single()

    # --- one PUT ------------------------------------------------------------------------

    def _single(self) -> PutResult:
        self._update(bytes_sent=0)
        with self._open() as raw:
            reader = GuardedReader(raw)

            def send() -> PutResult:
                reader.seek(0)
                result: PutResult = self.client.put(
                    self.remote_path,
                    reader,
                    self.total,
                    on_progress=self.on_progress,
                    cancel=self.token,
                    mtime=self.body.mtime,
                    checksum_sha256_hex=self.body.announced_sha256(),
                )
                return result

            result = self._with_lock_retry(send, reader)
            self.body.sent_in_order(raw)
        self._uploaded(result.server_digest)
        return result

    def _uploaded(self, digest: ServerDigest | None) -> None:
        """The whole file is on the server: record it with the server's digest of it (kept
        for the verification step, also across a restart), then say so."""
        self._update(
            state=FileState.UPLOADED, bytes_sent=self.total, server_digest=encode_digest(digest)
        )
        self.on_confirmed(Confirmed(Piece.FILE, self.att.id, self.total))

    def _with_lock_retry(self, send: Callable[[], T], reader: GuardedReader) -> T:
        """Run ``send``; on 423 wait briefly and send again (a few times), else re-raise.

        A 423 right after a pause or a cut is usually the server still holding the lock of the
        request we abandoned; it clears within a second or two (rclone waits the same way).
        A vault error raised inside the body is re-raised as itself.
        """
        for delay in (*LOCK_RETRY_DELAYS, None):
            try:
                return send()
            except ResourceLocked:
                if delay is None:
                    raise
                log.info("the server reports a lock; trying again in %.1f s", delay)
                self.token.wait(delay)
                check(self.token)
            except Exception:
                if reader.error is not None:
                    raise reader.error from None
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    # --- chunked ------------------------------------------------------------------------

    def _new_upload(self) -> ChunkedUploadPort:
        transfer_id = f"tellakit-{uuid.uuid4().hex}"
        # Persist the id before the MKCOL, so a kill right after it can still find the folder.
        self._update(transfer_id=transfer_id, bytes_sent=0, chunk_size=None)
        upload = self._upload_obj(transfer_id)
        check(self.token)
        upload.start()
        if upload.protocol == 1:
            # The server refused v2: record that with the id, so a resume speaks v1 too.
            self._update(transfer_id=stored_transfer_id(transfer_id, 1))
        return upload

    def _upload_obj(self, stored: str) -> ChunkedUploadPort:
        folder, protocol = parse_transfer_id(stored)
        return self.chunked_upload(
            self.client,
            self.remote_path,
            self.total,
            folder,
            chunk_size=self.att.chunk_size or self.tuning.initial_chunk,
            mtime=self.body.mtime,
            protocol=protocol,
        )

    def _already_on_server(self) -> bool:
        """True when the destination holds exactly our file (a MOVE whose answer was lost).

        Recognised by its size and then a digest the server computed (``PATCH
        X-Recalculate-Hash``) or one of a download, never by the checksum we sent; adopted on
        its size alone only where the connection checks sizes only (and recorded as such).
        The digest is recorded for the verification step, which then needs no second look.
        """
        entry = self.client.stat(self.remote_path)  # None when missing; other errors raise
        found = self.verifier.holds(entry, self.remote_path, self.body)
        if not found.ok:
            return False
        self._uploaded(found.digest)
        return True

    def _chunked(self) -> PutResult | None:
        total = self.total
        point = ResumePoint(0, 1)
        upload = None
        if self.att.transfer_id:
            upload = self._upload_obj(self.att.transfer_id)
            try:
                received = upload.received_chunks()
            except UploadExpired:
                upload = None
                if self._already_on_server():
                    return None
            else:
                point = resume_point(
                    received,
                    confirmed=self.att.bytes_sent,
                    in_flight=self.att.chunk_size,
                    total=total,
                )
                if point.offset != self.att.bytes_sent:
                    self._update(bytes_sent=point.offset)
        if upload is None:
            upload = self._new_upload()
        try:
            return self._send_chunks(upload, point)
        except UploadExpired:
            # The server dropped the folder mid-way (expiry): start this file again, cleanly.
            log.info("chunked upload expired on the server; restarting the file")
            upload = self._new_upload()
            return self._send_chunks(upload, ResumePoint(0, 1))

    def _send_chunks(self, upload: ChunkedUploadPort, point: ResumePoint) -> PutResult:
        total = self.total
        sizer = ChunkSizer(self.tuning, start=self.att.chunk_size)
        offset, number = point.offset, point.next_number
        self.on_progress(offset)
        with self._open() as raw:
            reader = GuardedReader(raw)
            while offset < total:
                check(self.token)
                size = sizer.next_size(offset, total, number)
                self._update(chunk_size=size)  # the chunk in flight, before it is sent
                base = offset
                started = time.monotonic()

                def send(number: int = number, base: int = base, size: int = size) -> None:
                    reader.seek(base)
                    upload.upload_chunk(
                        number,
                        reader,
                        size,
                        on_progress=lambda n: self.on_progress(base + n),
                        cancel=self.token,
                    )

                self._with_lock_retry(send, reader)
                sizer.observe(size, time.monotonic() - started)
                offset += size
                number += 1
                self._update(bytes_sent=offset)
                self.on_confirmed(Confirmed(Piece.CHUNK, self.att.id, offset))
                self.on_progress(offset)
            if reader.error is not None:  # belt and braces: never MOVE after a vault error
                raise reader.error
            self.body.sent_in_order(raw)
        check(self.token)
        result: PutResult = upload.finish()
        self._uploaded(result.server_digest)
        return result
