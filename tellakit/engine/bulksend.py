"""A report's small files and its description in one bulk request (Nextcloud 23+).

Used where the server advertises ``dav.bulkupload`` (plan.py's BULK steps). Before the request
each file is recorded as uploading (with its server path); after it, each file the server
stored is recorded as uploaded, one by one, and the description is checked and recorded as
sent. Files the server did not store (refused one by one, or never reached because the request
stopped at a part) are left to their own UPLOAD step, which sends each alone: a PUT's answer
names the precise error (a refused name, the quota ...), and a name refused for its emoji gets
its fallback there. One refused file never fails the others.

What the server's MD5 check counts for: it proves the server received the bytes announced
(a part whose MD5 differs is refused before anything of it is written, and is sent again by
its UPLOAD step), nothing more. It is computed from the request before the write, its answer
carries no digest, and it is MD5; so it is not evidence that the server holds the file
(docs/server-layout.md). Each file sent in bulk is verified as any other: the server
recalculates its SHA-256 (``PATCH``), or it is downloaded back.

Resumable as the rest of the plan: if the request is cut or the process killed, any of the
files may be on the server, whole (never a part), unrecorded. The next run sends the group
again (an overwrite with the same bytes), and a folder holding only such files of its own is
recognised as the report's (submission._looks_ours), so nothing is lost or duplicated.

Each file's part carries what its ``WireFile`` (sealing.py) gives: the vault's plaintext in
the readable layout, the age file of a sealed report (no mtime then); sizes and the bytes
recorded as sent are those of the wire, progress is told in plaintext bytes as for a PUT.
Plaintext exists only in memory: a part's MD5 is computed by a first read of its reader, which
then seeks back and streams the same bytes into the request.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field

from tellakit.engine.confirm import Confirmed, ConfirmedHook, Piece
from tellakit.engine.control import StopToken
from tellakit.engine.naming import DESCRIPTION_NAME, join_remote
from tellakit.engine.ports import ProtocolClient, ReportStore
from tellakit.engine.sealing import WireFile
from tellakit.engine.transfer import GuardedReader
from tellakit.errors import BulkUploadUnsupported
from tellakit.nextcloud.bulk import BulkItem, BulkReply
from tellakit.reports import Attachment, FileState

log = logging.getLogger(__name__)


@dataclass
class BulkOutcome:
    """What one bulk request achieved: the files stored, and whether the description was."""

    stored: list[Attachment]
    description_stored: bool
    unsupported: bool = False  # the server has no bulk endpoint after all
    #: attachment id -> the server's reason, for each file it refused one by one
    refused: dict[str, str] = field(default_factory=dict)


class _BulkReader(GuardedReader):
    """The vault reader of one file of a bulk request: the request computes the part's MD5
    with a first read, then seeks back (``tell`` tells it where back is)."""

    def tell(self) -> int:
        return int(self._reader.tell())


class BulkSend:
    """Sends one group of a report's files (and maybe its description) in one request."""

    def __init__(
        self,
        *,
        vault: ReportStore,
        client: ProtocolClient,
        report_id: str,
        folder: str,
        token: StopToken,
        on_progress: Callable[[Attachment, int], None],
        on_confirmed: ConfirmedHook,
        body: Callable[[Attachment], WireFile],
        description_name: str = DESCRIPTION_NAME,
    ) -> None:
        self.vault = vault
        self.client = client
        self.report_id = report_id
        self.folder = folder
        self.token = token
        self.on_progress = on_progress
        self.on_confirmed = on_confirmed
        #: what a file's part carries (the report's wire), and the description's name
        self.body = body
        self.description_name = description_name
        self._bodies: dict[str, WireFile] = {}

    def _update(self, att: Attachment, **fields: object) -> None:
        self.vault.update_attachment(self.report_id, att.id, **fields)
        for key, value in fields.items():
            setattr(att, key, value)

    def _body(self, att: Attachment) -> WireFile:
        if att.id not in self._bodies:
            self._bodies[att.id] = self.body(att)
        return self._bodies[att.id]

    def send(self, atts: list[Attachment], description: bytes | None) -> BulkOutcome:
        """One bulk request for ``atts`` (their server names chosen) and ``description``.

        Raises what the request raises (``Cancelled`` on pause, ``ConnectionLost`` ...), or
        the vault's own error when a file could not be read.
        """
        for att in atts:
            assert att.remote_name is not None
            path = join_remote(self.folder, att.remote_name)
            # A failed verification starts the file again from nothing, as a PUT would.
            self._update(
                att,
                state=FileState.UPLOADING,
                remote_path=path,
                error=None,
                bytes_sent=0,
                transfer_id=None,
                chunk_size=None,
                server_digest=None,
            )
        with ExitStack() as stack:
            items: list[BulkItem] = []
            desc_path = join_remote(self.folder, self.description_name)
            if description is not None:
                items.append(BulkItem(desc_path, io.BytesIO(description), len(description)))
            readers: list[_BulkReader] = []
            for att in atts:
                body = self._body(att)
                raw = body.open()
                stack.callback(raw.__exit__, None, None, None)
                reader = _BulkReader(raw)
                readers.append(reader)
                path = att.remote_path or ""
                items.append(BulkItem(path, reader, body.size, mtime=body.mtime))
            try:
                reply = self.client.bulk_upload(
                    items, on_progress=self._progress(atts, description), cancel=self.token
                )
            except BulkUploadUnsupported:
                log.info("the server refused bulk upload; its files go one by one")
                return BulkOutcome([], False, unsupported=True)
            except Exception:
                for reader in readers:
                    if reader.error is not None:
                        raise reader.error from None
                raise
        return self._record(reply, atts, desc_path if description is not None else None)

    def _record(self, reply: BulkReply, atts: list[Attachment], desc: str | None) -> BulkOutcome:
        results = reply.by_path()
        stored: list[Attachment] = []
        refused: dict[str, str] = {}
        for att in atts:
            result = results.get(att.remote_path or "")
            if result is None or not result.stored:
                why = result.message if result is not None and result.message else "not stored"
                if result is not None and result.message:
                    refused[att.id] = result.message
                log.info("a file of the bulk request goes on its own (%s)", why)
                continue
            size = self._body(att).size
            self._update(att, state=FileState.UPLOADED, bytes_sent=size)
            self.on_confirmed(Confirmed(Piece.FILE, att.id, size))
            self.on_progress(att, att.size)
            stored.append(att)
        desc_result = results.get(desc) if desc is not None else None
        return BulkOutcome(stored, desc_result is not None and desc_result.stored, refused=refused)

    def _progress(self, atts: list[Attachment], description: bytes | None) -> Callable[[int], None]:
        """Body bytes sent -> each file's bytes sent (the parts' headers left out)."""
        spans: list[tuple[Attachment, int]] = []
        offset = len(description) if description is not None else 0
        for att in atts:
            spans.append((att, offset))
            offset += self._body(att).size

        told: dict[str, int] = {}

        def progress(sent: int) -> None:
            for att, start in spans:
                if start >= sent:
                    break
                body = self._body(att)
                now = body.plain_bytes(min(body.size, sent - start))
                if told.get(att.id) != now:
                    told[att.id] = now
                    self.on_progress(att, now)

        return progress
