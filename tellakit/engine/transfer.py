"""Sending one attachment from the vault to the server: one PUT, or a resumable chunked upload.

What the body is comes from the report's wire (sealing.py): its size, a seekable reader of its
bytes (the vault's decrypting BlobReader, or the SealedReader that encrypts it again for the
organization), the mtime and checksum to announce and the digest to expect. Offsets, chunk
sizes and byte counts below are of those bytes. Plaintext only ever exists in memory: the
vault's reader decrypts (and authenticates) as the request body is read, one age chunk at a
time, and seeks to the first byte a chunk needs.

A chunked upload records in the index, in this order: the transfer id (before the MKCOL that
creates the upload folder), then the chunk map (chunkmap.py: every chunk is recorded before its
first byte is sent, and again once the server confirmed it; ``bytes_sent`` is the confirmed
count). Several chunks go at once (pipeline.py), sized from the time target and from what the
link carried between drops (chunking.py, link.py). A resume trusts the confirmed chunks, asks
the server (PROPFIND Depth 0) about each chunk that was in flight, keeps those that arrived
whole and sends only the others again: a cut or a kill re-sends at most the chunks in flight.
Each sender thread reads through its own reader of the body. A body whose SHA-256 is not known
yet (a sealed file's age file) is hashed as the chunk bodies read it, while they read it in
order from the first byte (``InOrderDigest``: chunks whose bodies cross one at a time, no
resume); otherwise the verification takes it with one extra pass (``SealedFile.sha256``).

Chunking v2 needs chunks of at least 5 MiB. A new upload speaks v1 when the link cannot carry
that between drops; a v2 upload whose link turned that bad is given up (its folder deleted) for
a v1 one when nothing of it was confirmed yet, or when the link's record says 5 MiB hardly ever
gets through (``_switch_to_v1``). The next file speaks v2 again once the link holds. When the
server refused v2 (MKCOL with Destination) and the upload fell back to v1, or the engine chose
v1, the stored transfer id gets a ``v1:`` prefix (recorded before the MKCOL when chosen, right
after it for a fallback), so a resume speaks v1 too.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from tellakit.engine.chunking import ChunkPlanner, Tuning, fit, preferred_protocol
from tellakit.engine.chunkmap import ChunkMap
from tellakit.engine.confirm import Confirmed, ConfirmedHook, Piece, ignore
from tellakit.engine.control import StopToken, check
from tellakit.engine.link import LinkModel
from tellakit.engine.pipeline import Body, ChunkPipeline, open_stream
from tellakit.engine.ports import (
    BlobStream,
    ChunkedUploadFactory,
    ChunkedUploadPort,
    ProtocolClient,
)
from tellakit.engine.sealing import WireFile
from tellakit.engine.verification import Verifier, encode_digest
from tellakit.errors import ConnectionLost, ResourceLocked, UploadExpired, VaultError
from tellakit.nextcloud.models import Capabilities, PutResult, ServerDigest
from tellakit.reports import Attachment, FileState

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # bytes of this file (confirmed, in flight)
T = TypeVar("T")
#: Waits before re-sending a request the server answered 423 Locked.
LOCK_RETRY_DELAYS = (0.5, 1.0, 2.0)


class AttachmentStore(Protocol):
    """The part of the Vault a transfer uses (kept small so it is easy to reason about)."""

    def update_attachment(self, report_id: str, attachment_id: str, **fields: Any) -> None: ...


class InOrderDigest:
    """SHA-256 of a body's bytes as request bodies read them, for as long as every read goes
    on where the bytes hashed so far end (reads of bytes already hashed, e.g. a chunk sent
    again, are skipped; one that leaves a gap ends it). Readers of several threads feed it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards _hash and _end
        self._hash = hashlib.sha256()
        self._end = 0  # bytes hashed, from the first
        self._broken = False

    def feed(self, offset: int, data: bytes | memoryview) -> None:
        with self._lock:
            if self._broken or offset + len(data) <= self._end:
                return
            if offset > self._end:
                self._broken = True  # a gap: bytes before it were never read in order
                return
            self._hash.update(data[self._end - offset :])
            self._end = offset + len(data)

    def sha256_hex(self, total: int) -> str | None:
        """The digest of all ``total`` bytes, or None when they were not all read in order."""
        with self._lock:
            ok = not self._broken and self._end == total
            return self._hash.hexdigest() if ok else None


class GuardedReader:
    """A view of the vault reader that remembers the first vault error it raised (and feeds
    the bytes read to ``digest``, if given).

    The protocol layer may turn an exception raised inside a request body into a transport
    error; this keeps the real cause (e.g. VaultCorrupted) so the engine reports it truly.
    """

    def __init__(self, reader: BlobStream, digest: InOrderDigest | None = None):
        self._reader = reader
        self._digest = digest
        self._pos = 0
        self.error: VaultError | None = None

    def read(self, n: int = -1) -> bytes:
        try:
            raw = self._reader.read(n)
        except VaultError as exc:
            self.error = exc
            raise
        data = b"" if raw is None else bytes(raw)
        self._advance(memoryview(data))
        return data

    def readinto(self, buf: bytearray | memoryview) -> int:
        try:
            readinto = getattr(self._reader, "readinto", None)
            if readinto is not None:
                count = int(readinto(buf))
            else:
                data = self._reader.read(len(buf)) or b""
                buf[: len(data)] = data
                count = len(data)
        except VaultError as exc:
            self.error = exc
            raise
        self._advance(memoryview(buf)[:count])
        return count

    def _advance(self, data: memoryview) -> None:
        if self._digest is not None and len(data):
            self._digest.feed(self._pos, data)
        self._pos += len(data)

    def seek(self, offset: int) -> None:
        self._reader.seek(offset)
        self._pos = offset


class _Digested:
    """What ``WireFile.sent_in_order`` asks a reader that read the whole body: its digest."""

    def __init__(self, digest: InOrderDigest, total: int) -> None:
        self._digest = digest
        self._total = total

    def sha256_hex(self) -> str | None:
        return self._digest.sha256_hex(self._total)


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
    """Uploads one attachment to ``remote_path``; see the module docstring.

    ``link`` is the model of the link to the server (None: chunks sized by time only);
    ``capabilities`` say how many chunk PUTs the server takes at once.
    """

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
        link: LinkModel | None = None,
        capabilities: Capabilities | None = None,
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
        self.link = link if tuning.follow_link else None
        self.caps = capabilities or Capabilities()
        self.requests_sent = 0
        self._began = 0.0  # when this transfer began using the link

    def _update(self, **fields: Any) -> None:
        self.vault.update_attachment(self.report_id, self.att.id, **fields)
        for key, value in fields.items():
            setattr(self.att, key, value)

    def _open(self, *, digest: bool = True) -> BlobStream:
        """A reader of the body (see ``sealing._open_at``: every byte is authenticated as the
        vault's own as it is read, so a tampered blob raises VaultCorrupted mid-body and the
        upload is never completed; the SHA-256 is checked end to end after the upload)."""
        return self.body.open(digest=digest)

    def run(self) -> PutResult | None:
        """Send the file; returns the server's answer to the final PUT/MOVE (None if adopted).

        The server's digest in that answer (or the one that let a file already on the server be
        adopted) is recorded with the file as ``server_digest`` for the verification step.
        """
        check(self.token)
        self._update(state=FileState.UPLOADING, remote_path=self.remote_path, error=None)
        if self.link is not None:
            self._began = self.link.begin()
        try:
            if self.use_chunks:
                return self._chunked()
            return self._single()
        finally:
            if self.link is not None:
                self.link.end()

    # --- one PUT ------------------------------------------------------------------------

    def _single(self) -> PutResult:
        self._update(bytes_sent=0)
        sent = [0]

        def progress(n: int) -> None:
            sent[0] = n
            self.on_progress(0, n)

        with self._open() as raw:
            reader = GuardedReader(raw)

            def send() -> PutResult:
                reader.seek(0)
                result: PutResult = self.client.put(
                    self.remote_path,
                    reader,
                    self.total,
                    on_progress=progress,
                    cancel=self.token,
                    mtime=self.body.mtime,
                    checksum_sha256_hex=self.body.announced_sha256(),
                )
                return result

            try:
                result = self._with_lock_retry(send, reader)
            except ConnectionLost:
                if self.link is not None:
                    self.link.dropped(sent[0], self._began)
                raise
            self.body.sent_in_order(raw)
        if self.link is not None:
            self.link.delivered(self.total)
        self._uploaded(result.server_digest)
        return result

    def _uploaded(self, digest: ServerDigest | None) -> None:
        """The whole file is on the server: record it with the server's digest of it (kept
        for the verification step, also across a restart), then say so."""
        self._update(
            state=FileState.UPLOADED, bytes_sent=self.total, server_digest=encode_digest(digest)
        )
        self.on_confirmed(Confirmed(Piece.FILE, self.att.id, self.total))

    def _with_lock_retry(self, send: Callable[[], T], reader: Body) -> T:
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
        protocol = preferred_protocol(self.tuning, self.link)
        transfer_id = f"tellakit-{uuid.uuid4().hex}"
        # Persist the id before the MKCOL, so a kill right after it can still find the folder.
        self._update(
            transfer_id=stored_transfer_id(transfer_id, protocol),
            bytes_sent=0,
            chunk_size=None,
            chunk_map=ChunkMap().dumps(),
        )
        upload = self._upload_obj(self.att.transfer_id or transfer_id)
        check(self.token)
        upload.start()
        if upload.protocol == 1 and protocol == 2:
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
            chunk_size=self.tuning.initial_chunk,
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
        upload = None
        chunks = ChunkMap()
        if self.att.transfer_id:
            upload = self._upload_obj(self.att.transfer_id)
            try:
                chunks = self._resume(upload)
            except UploadExpired:
                upload = None
                if self._already_on_server():
                    return None
            else:
                if self._switch_to_v1(upload, chunks):
                    upload.abort()  # nothing of it is left on the server
                    upload = None
        if upload is None:
            upload, chunks = self._new_upload(), ChunkMap()
        try:
            return self._send_chunks(upload, chunks)
        except UploadExpired:
            # The server dropped the folder mid-way (expiry): start this file again, cleanly.
            log.info("chunked upload expired on the server; restarting the file")
            upload = self._new_upload()
            return self._send_chunks(upload, ChunkMap())

    def _resume(self, upload: ChunkedUploadPort) -> ChunkMap:
        """What of the recorded upload is on the server; raises UploadExpired when it is gone.

        The chunks that were in flight are asked about one by one: kept when whole, else sent
        again (with their recorded size when confirmed chunks follow them, else re-planned).
        """
        chunks = self._recorded_map()
        if chunks is None:  # recorded by an older tellakit (or damaged): list the folder
            point = resume_point(
                upload.received_chunks(),
                confirmed=self.att.bytes_sent,
                in_flight=self.att.chunk_size,
                total=self.total,
            )
            chunks = ChunkMap(point.offset, point.next_number)
        else:
            doubtful = chunks.unconfirmed()
            for chunk in doubtful:
                if upload.received_size(chunk.number) == chunk.size:
                    chunks.confirm(chunk.number)  # arrived whole, its answer was lost
            if not doubtful:
                upload.ensure_exists()
            chunks.drop_tail()
        self._record_map(chunks)
        return chunks

    def _recorded_map(self) -> ChunkMap | None:
        """The recorded chunk map; None when there is none or it cannot be read (then the
        server's listing decides, as for an upload recorded by an older tellakit)."""
        if self.att.chunk_map is None:
            return None
        try:
            return ChunkMap.loads(self.att.chunk_map)
        except ValueError:
            log.warning("the recorded chunk map is unreadable; asking the server instead")
            return None

    def _switch_to_v1(self, upload: ChunkedUploadPort, chunks: ChunkMap) -> bool:
        """True when this v2 upload should give way to a v1 one with smaller chunks: the link
        cannot carry 5 MiB between drops, and nothing of it is confirmed yet or sending the
        confirmed part again costs less than 5 MiB chunks would lose on the rest."""
        if self.link is None or upload.protocol != 2:
            return False
        if preferred_protocol(self.tuning, self.link) != 1:
            return False
        if chunks.confirmed == 0:
            return True
        offset, number = chunks.frontier
        floor = self.tuning.floor(2)
        chunk = fit(floor, offset, self.att.size, number, self.tuning.max_chunks, floor)
        if not self.link.restart_pays(chunks.confirmed, self.att.size - offset, chunk):
            return False
        log.info("chunking v1 from here: %.1f MB confirmed go again", chunks.confirmed / 1e6)
        return True

    def _record_map(self, chunks: ChunkMap) -> None:
        """Record the chunk map and the confirmed count (before a chunk goes, after one came)."""
        self._update(bytes_sent=chunks.confirmed, chunk_map=chunks.dumps(), chunk_size=None)

    def _send_chunks(self, upload: ChunkedUploadPort, chunks: ChunkMap) -> PutResult:
        planner = ChunkPlanner(
            self.tuning,
            link=self.link,
            protocol=upload.protocol,
            parallel=upload.max_in_flight(self.caps),
            start=self._first_size(),
        )
        # A digest the body does not know yet is taken as the chunks are read, if in order.
        digest = InOrderDigest() if self.body.announced_sha256() is None else None
        pipeline = ChunkPipeline(
            upload=upload,
            # only this digest hashes: each sender's own reader would hash its bytes again
            open_body=open_stream(
                lambda: self._open(digest=False), lambda stream: GuardedReader(stream, digest)
            ),
            total=self.total,
            chunks=chunks,
            planner=planner,
            link=self.link,
            token=self.token,
            guard=self._with_lock_retry,
            record=self._record_map,
            on_progress=self.on_progress,
            on_chunk=lambda n: self.on_confirmed(Confirmed(Piece.CHUNK, self.att.id, n)),
            began=self._began,
        )
        try:
            pipeline.run()
        finally:
            self.requests_sent += pipeline.requests
        if digest is not None:
            self.body.sent_in_order(_Digested(digest, self.total))
        check(self.token)
        result: PutResult = upload.finish()
        self._uploaded(result.server_digest)
        return result

    def _first_size(self) -> int | None:
        """The first chunk's size from the link's measured speed (None: ``initial_chunk``)."""
        speed = self.link.throughput() if self.link is not None else None
        if not speed:
            return None
        return int(speed * self.tuning.target_seconds / max(1, self.tuning.max_in_flight))
