"""One report's way to the server: runs the step plan (see plan.py), recording each step.

The folder step is where duplicate and empty folders are avoided:

* Fresh report: each candidate name ("Title", "Title (2)", ...) is recorded in the index as the
  report's folder *before* its MKCOL; 201 means it is ours, 405 means taken -> next candidate.
* Report with a recorded folder and content already confirmed (description or a file sent):
  the folder is ours; one MKCOL makes sure it still exists (405 is fine).
* Recorded but unconfirmed folder (a kill between recording and MKCOL, or between MKCOL and the
  next step): MKCOL 201 -> ours now. 405 -> PROPFIND Depth 1: when the folder holds nothing but
  files this report would create (its description file, and with bulk upload its chosen file
  names), each as sent (see ``_looks_ours``), it is ours and is reused; otherwise someone else
  took the name and the next candidate is tried. So a resume never leaves an empty extra folder.

Everything that depends on the report's layout (readable or sealed: names, bodies, sizes, the
SHA-256 the server's digest must equal) comes from its ``ReportWire`` (sealing.py); each
object sent is a ``WireObject`` of it, so a sealed file is verified on the server's digest of
its ciphertext.

Every object sent (description, each file, manifest) is checked against a SHA-256 the server
computed (verification.py). A file whose check fails is sent again from the start, once; a
second failure stops the report with "Verification failed: ...". A server whose database
cannot store 4-byte UTF-8 (emoji; MySQL without utf8mb4) refuses such names: the folder or
file then gets the same name without those characters, recorded as its server name.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

from tellakit.engine.bulksend import BulkSend
from tellakit.engine.chunking import Tuning
from tellakit.engine.confirm import Confirmed, ConfirmedHook, Piece, ignore
from tellakit.engine.control import StopToken, check
from tellakit.engine.link import LinkModel
from tellakit.engine.naming import assign_file_names, join_remote
from tellakit.engine.plan import Step, StepKind, plan
from tellakit.engine.ports import ChunkedUploadFactory, ProtocolClient, ReportStore
from tellakit.engine.sealing import WireBytes, WireFile, WireObject, wire_for
from tellakit.engine.transfer import FileTransfer
from tellakit.engine.verification import Checked, Verifier, decode_digest, encode_digest
from tellakit.errors import NameRejected, UnexpectedResponse, VerificationFailed
from tellakit.nextcloud.models import Capabilities
from tellakit.nextcloud.names import has_4byte_utf8, refuses_4byte_utf8
from tellakit.reports import CHECKED, Attachment, FileState, Report, Status
from tellakit.vault.models import WITHOUT_DIGEST_DOWNLOAD

log = logging.getLogger(__name__)

MAX_FOLDER_CANDIDATES = 1000
#: How often a file (or the description, the manifest) is sent again from the start after
#: its verification failed, before the report stops with "Verification failed".
MAX_RESENDS = 1

# (report, attachment or None, bytes of that file confirmed on the server, bytes in flight)
ProgressHook = Callable[[Report, "Attachment | None", int, int], None]
# (attachment, bytes of the server's copy downloaded and hashed so far)
VerifyProgressHook = Callable[[Report, Attachment, int], None]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _no_verify_progress(_report: Report, _att: Attachment, _n: int) -> None:
    """The hook of a caller that does not show verification downloads."""


class ReportSubmission:
    """Runs the remaining steps of one report with one client; raises on stop or error."""

    def __init__(
        self,
        *,
        vault: ReportStore,
        client: ProtocolClient,
        chunked_upload: ChunkedUploadFactory,
        capabilities: Capabilities,
        root_folder: str,
        upload_manifest: bool,
        report_id: str,
        token: StopToken,
        tuning: Tuning,
        on_progress: ProgressHook,
        tellakit_version: str,
        on_confirmed: ConfirmedHook = ignore,
        without_digest: str = WITHOUT_DIGEST_DOWNLOAD,
        on_verify_progress: VerifyProgressHook = _no_verify_progress,
        root_known: bool = False,
        on_root: Callable[[bool], None] | None = None,
        link: LinkModel | None = None,
        encrypt_to: tuple[str, ...] = (),
        readable_names: bool = False,
    ):
        self.vault = vault
        self.client = client
        self.chunked_upload = chunked_upload
        self.caps = capabilities
        self.rules = capabilities.name_rules
        self.root = root_folder.strip("/")
        self.upload_manifest = upload_manifest
        self.report_id = report_id
        self.token = token
        self.tuning = tuning.for_server(capabilities.max_chunk_size)
        self.on_progress = on_progress
        self.on_confirmed = on_confirmed
        self.on_verify_progress = on_verify_progress
        self.link = link
        self.report: Report = vault.get_report(report_id)
        # The connection's encryption settings count only for a report not fixed yet.
        self.wire = wire_for(
            vault,
            self.report,
            encrypt_to=encrypt_to,
            readable_names=readable_names,
            tellakit_version=tellakit_version,
        )
        self.verifier = Verifier(
            client,
            without_digest=without_digest,
            cancel=token,
            server_version=capabilities.version,
        )
        #: the server refused a name for its 4-byte UTF-8 characters during this run
        self.no_4byte_utf8 = False
        #: an earlier run made sure the root folder exists (ServerFacts); on_root(exists) is
        #: told what this run found out
        self.root_known = root_known
        self.on_root = on_root or (lambda _exists: None)
        #: the server answered a bulk request as a server without the endpoint
        self.bulk_unsupported = False

    # --- driver -----------------------------------------------------------------------

    def run(self) -> Report:
        """Run every remaining step; returns the report, now SUBMITTED."""
        steps = plan(
            self.report,
            upload_manifest=self.upload_manifest or self.wire.manifest_always,
            bulk=self.tuning.bulk if self.caps.bulkupload else None,
            description_size=len(self.wire.description()),
        )
        for step in steps:
            check(self.token)
            if step.kind is StepKind.NAMES:
                self._choose_file_names()
            elif step.kind is StepKind.FOLDER:
                self._choose_folder()
            elif step.kind is StepKind.BULK:
                self._send_bulk(step)
            elif step.kind is StepKind.DESCRIPTION:
                self._send_description()
            elif step.kind is StepKind.UPLOAD:
                att = self._att(step.attachment_id)
                if att.state is not FileState.UPLOADED and att.state not in CHECKED:
                    self._upload(att)  # not already stored by a BULK step
            elif step.kind is StepKind.VERIFY:
                self._verify(self._att(step.attachment_id))
            elif step.kind is StepKind.MANIFEST:
                self._send_manifest()
            elif step.kind is StepKind.FINISH:
                self._finish()
        return self.report

    def _att(self, attachment_id: str | None) -> Attachment:
        for a in self.report.attachments:
            if a.id == attachment_id:
                return a
        raise KeyError(attachment_id)

    def _record(self, **fields: Any) -> None:
        self.vault.update_report_submission(self.report_id, **fields)
        for key, value in fields.items():
            setattr(self.report, key, value)

    def _record_file(self, att: Attachment, **fields: Any) -> None:
        self.vault.update_attachment(self.report_id, att.id, **fields)
        for key, value in fields.items():
            setattr(att, key, value)

    # --- 1. names -----------------------------------------------------------------------

    def _choose_file_names(self) -> None:
        atts = sorted(self.report.attachments, key=lambda a: a.position)
        todo = [a for a in atts if a.remote_name is None]
        names = self.wire.file_names(atts, self.rules)
        for att, name in zip(todo, names, strict=True):
            self._record_file(att, remote_name=name)

    def _refused_for_4byte_utf8(self, error: NameRejected, name: str) -> bool:
        """True (and remembered for the run) when ``error`` refused ``name`` for its emoji."""
        if not refuses_4byte_utf8(error, name):
            return False
        if not self.no_4byte_utf8:
            log.info("the server refuses names with 4-byte UTF-8 (no utf8mb4); using fallbacks")
        self.no_4byte_utf8 = True
        return True

    def _rename_without_4byte_utf8(self, att: Attachment) -> None:
        """Give ``att`` its fallback name (no 4-byte UTF-8), clash-free, and record it.
        (Readable layout only: a sealed report's names are ASCII.)"""
        others = [a.remote_name for a in self.report.attachments if a is not att and a.remote_name]
        taken = [self.wire.description_name, self.wire.manifest_name, *others]
        (name,) = assign_file_names([att.name], self.rules, taken=taken, allow_4byte_utf8=False)
        log.info("a file name goes to the server without its 4-byte UTF-8 characters")
        self._record_file(att, remote_name=name, remote_path=None)

    # --- 2. folder ----------------------------------------------------------------------

    def _content_confirmed(self) -> bool:
        return self.report.description_sent or any(
            a.state is FileState.UPLOADED or a.state in CHECKED or a.bytes_sent > 0
            for a in self.report.attachments
        )  # the description is sent first, so this is "description sent" in practice

    def _looks_ours(self, folder: str) -> bool:
        """True when ``folder`` holds only what this report could have put there unrecorded.

        Called only while nothing is confirmed: the folder is ours if it is empty, or holds
        only files of this report sent right before a kill or a cut (its description file,
        and with bulk upload any of its files), each of the size sent and with the same
        SHA-256 as the server computes it or as downloaded back (the size alone where the
        connection checks sizes only).
        """
        entries = self.client.propfind(folder, depth=1)
        own = folder.strip("/")
        ours: dict[str, WireObject] = {
            self.wire.description_name: WireBytes(self.wire.description())
        }
        for att in self.report.attachments:
            if att.remote_name:
                ours[att.remote_name] = self.wire.file(att)
        for entry in entries:
            if entry.path.strip("/") == own:
                continue
            sent = ours.get(entry.name)
            if (
                sent is None
                or not self.verifier.holds(entry, join_remote(own, entry.name), sent).ok
            ):
                return False
        return True

    def _folder_names(self, *, after: str | None = None) -> Iterator[str]:
        """The candidate folder names (past ``after``), without 4-byte UTF-8 once the server
        refused some."""
        return self.wire.folder_names(
            self.rules, after=after, allow_4byte_utf8=not self.no_4byte_utf8
        )

    def _ensure_root(self) -> None:
        self.client.ensure_folder(self.root)
        self.root_known = True
        self.on_root(True)

    def _mkcol(self, path: str) -> bool:
        """MKCOL of the report folder; a root folder gone since an earlier run (409: parent
        missing) is created again first."""
        try:
            return self.client.mkcol(path)
        except UnexpectedResponse as exc:
            if exc.status != 409:
                raise
            self.on_root(False)
            self._ensure_root()
            return self.client.mkcol(path)

    def _choose_folder(self) -> None:
        if not self.root_known:
            self._ensure_root()
        recorded = self.report.remote_folder
        after = None
        if recorded:
            taken = recorded.rsplit("/", 1)[-1]
            try:
                if self._content_confirmed():
                    self._mkcol(recorded)  # still there? (405 = yes, it is ours)
                    return
                if self._mkcol(recorded) or self._looks_ours(recorded):
                    return
            except NameRejected as exc:
                if not self._refused_for_4byte_utf8(exc, taken):
                    raise
            else:
                after = taken  # someone else holds that name: continue past it
        names = self._folder_names(after=after)
        for _ in range(MAX_FOLDER_CANDIDATES):
            check(self.token)
            name = next(names)
            path = join_remote(self.root, name)
            # Recorded before the MKCOL: a kill between the two is caught by _looks_ours.
            self._record(remote_folder=path)
            try:
                if self._mkcol(path):
                    return
            except NameRejected as exc:
                if not self._refused_for_4byte_utf8(exc, name):
                    raise
                names = self._folder_names()  # the same title without its emoji
        raise VerificationFailed(
            f"no free folder name for this report in {self.root} after "
            f"{MAX_FOLDER_CANDIDATES} tries"
        )

    def _folder(self) -> str:
        assert self.report.remote_folder is not None
        return self.report.remote_folder

    # --- 3. description -----------------------------------------------------------------

    def _put_bytes(self, name: str, data: bytes) -> Checked:
        """One small file of the report's own (description, manifest) into its folder,
        verified like any file: sent again once when the check fails, then the report stops."""
        path = join_remote(self._folder(), name)
        sent = WireBytes(data)
        for resends in range(MAX_RESENDS + 1):
            result = self.client.put(
                path,
                io.BytesIO(data),
                len(data),
                cancel=self.token,
                checksum_sha256_hex=sent.sha256,
            )
            checked = self.verifier.check(path, sent, name=name, known=result.server_digest)
            if checked.ok:
                return checked
            log.warning("%s failed its verification (%d re-sends so far)", name, resends)
        raise VerificationFailed(f"Verification failed: {checked.problem}.", path=path)

    def _send_description(self) -> None:
        if self.report.description_sent:
            return  # a BULK step sent it
        self._put_bytes(self.wire.description_name, self.wire.description())
        self._description_sent()

    def _description_sent(self) -> None:
        self._record(description_sent=True)
        self.on_confirmed(Confirmed(Piece.DESCRIPTION))
        self.on_progress(self.report, None, 0, 0)

    # --- bulk: the description and small files in one request ----------------------------

    def _send_bulk(self, step: Step) -> None:
        """One bulk request (see bulksend.py); what it did not store goes on by PUT."""
        if self.bulk_unsupported:
            return
        atts = [self._att(i) for i in step.attachment_ids]
        atts = [a for a in atts if a.state is not FileState.UPLOADED and a.state not in CHECKED]
        for att in atts:
            assert att.remote_name is not None
            if self.no_4byte_utf8 and has_4byte_utf8(att.remote_name):
                self._rename_without_4byte_utf8(att)
        desc = None
        if step.description and not self.report.description_sent:
            desc = self.wire.description()
        if not atts and desc is None:
            return
        outcome = BulkSend(
            vault=self.vault,
            client=self.client,
            report_id=self.report_id,
            folder=self._folder(),
            token=self.token,
            on_progress=lambda att, n: self.on_progress(self.report, att, 0, n),
            on_confirmed=self.on_confirmed,
            body=self.wire.file,
            description_name=self.wire.description_name,
        ).send(atts, desc)
        self.bulk_unsupported = outcome.unsupported
        for att in atts:
            why = outcome.refused.get(att.id)
            refusal = NameRejected(why or "", status=400, reason=why)
            if why and self._refused_for_4byte_utf8(refusal, att.remote_name or ""):
                self._rename_without_4byte_utf8(att)  # its UPLOAD step sends it so
        # What bulk stored carries no digest: the server recalculates them all at once (their
        # VERIFY steps then compare), rather than one round trip per file.
        desc_path = join_remote(self._folder(), self.wire.description_name)
        stored = [a.remote_path or "" for a in outcome.stored]
        if desc is not None and outcome.description_stored:
            stored.append(desc_path)
        digests = self.verifier.recalculated_digests(stored)
        for att in outcome.stored:
            digest = digests.get(att.remote_path or "")
            if digest is not None:
                self._record_file(att, server_digest=encode_digest(digest))
        if desc is not None and outcome.description_stored:
            known = digests.get(desc_path)
            name = self.wire.description_name
            if self.verifier.check(desc_path, WireBytes(desc), name=name, known=known).ok:
                self._description_sent()
            # else the DESCRIPTION step sends it again by PUT, verified as every file

    # --- 4. files -----------------------------------------------------------------------

    def _upload(self, att: Attachment) -> None:
        """Send ``att``; a name refused for its emoji is replaced and the file sent there."""
        if att.state is FileState.FAILED:
            # A failed verification: start the file again from nothing.
            self._record_file(
                att,
                transfer_id=None,
                bytes_sent=0,
                chunk_size=None,
                server_digest=None,
                chunk_map=None,
            )
        assert att.remote_name is not None
        if self.no_4byte_utf8 and has_4byte_utf8(att.remote_name):
            self._rename_without_4byte_utf8(att)
        try:
            self._transfer(att)
        except NameRejected as exc:
            if not self._refused_for_4byte_utf8(exc, att.remote_name or ""):
                raise
            self._rename_without_4byte_utf8(att)
            self._transfer(att)  # a chunked upload goes on from the chunks already sent

    def _transfer(self, att: Attachment) -> None:
        assert att.remote_name is not None
        remote_path = join_remote(self._folder(), att.remote_name)
        body = self.wire.file(att)
        transfer = FileTransfer(
            vault=self.vault,
            client=self.client,
            chunked_upload=self.chunked_upload,
            report_id=self.report_id,
            attachment=att,
            remote_path=remote_path,
            body=body,
            tuning=self.tuning,
            token=self.token,
            on_progress=lambda done, flying: self._file_progress(body, att, done, flying),
            verifier=self.verifier,
            on_confirmed=self.on_confirmed,
            link=self.link,
            capabilities=self.caps,
        )
        self.on_progress(self.report, att, body.plain_bytes(att.bytes_sent), 0)
        transfer.run()
        self.on_progress(self.report, att, att.size, 0)

    def _file_progress(self, body: WireFile, att: Attachment, done: int, flying: int) -> None:
        """Report a file's (confirmed, in flight) bytes on the wire as plaintext bytes."""
        confirmed = body.plain_bytes(done)
        self.on_progress(self.report, att, confirmed, body.plain_bytes(done + flying) - confirmed)

    # --- 5. verify ----------------------------------------------------------------------

    def _verify(self, att: Attachment) -> None:
        """Check ``att`` on the server; on a mismatch send it again from the start, once."""
        path = att.remote_path or join_remote(self._folder(), att.remote_name or "")
        body = self.wire.file(att)  # sealed: the ciphertext's SHA-256, never the plaintext's
        checked = self.verifier.check(
            path,
            body,
            name=att.name,
            known=decode_digest(att.server_digest),
            on_progress=lambda n: self.on_verify_progress(self.report, att, body.plain_bytes(n)),
        )
        if not checked.ok:
            self._failed_check(att, path, checked)
            return
        level = checked.verification
        assert level is not None
        state = FileState.VERIFIED if level.content_verified else FileState.SIZE_CHECKED
        self._record_file(
            att,
            state=state,
            verification=level,
            checksum=checked.checksum,
            verified_at=_now(),
            error=None,
        )
        self.on_confirmed(Confirmed(Piece.VERIFIED, att.id, att.size))
        self.on_progress(self.report, att, att.size, 0)

    def _failed_check(self, att: Attachment, path: str, checked: Checked) -> None:
        """Record the failed check; send the file again (and check it) unless it was already
        sent again, else stop the report with the reason."""
        resend = att.resends < MAX_RESENDS
        self._record_file(
            att,
            state=FileState.FAILED,
            error=checked.problem,
            resends=att.resends + 1 if resend else att.resends,
            server_digest=None,
        )
        self.on_progress(self.report, att, 0, 0)
        if not resend:
            raise VerificationFailed(f"Verification failed: {checked.problem}.", path=path)
        log.warning("a file failed its verification; sending it again from the start")
        self._upload(att)
        self._verify(att)

    # --- 6. manifest, 7. finish ---------------------------------------------------------

    def _send_manifest(self) -> None:
        captured: dict[str, datetime | None] = {}
        for a in self.report.attachments:
            try:
                captured[a.file_id] = self.vault.get_file(a.file_id).imported_at
            except Exception:
                captured[a.file_id] = None
        submitted_at = _now()
        data = self.wire.manifest(
            folder_name=self._folder().rsplit("/", 1)[-1],
            submitted_at=submitted_at,
            captured=captured,
        )
        self._put_bytes(self.wire.manifest_name, data)
        self._record(manifest_sent=True, submitted_at=submitted_at)
        self.on_confirmed(Confirmed(Piece.MANIFEST))

    def _finish(self) -> None:
        check(self.token)
        if self.report.submitted_at is None:
            self._record(submitted_at=_now())
        self.report = self.vault.set_status(
            self.report_id, Status.SUBMITTED, reason=None, retryable=None
        )
        if self.wire.sealed:
            self._forget_keys()

    def _forget_keys(self) -> None:
        """A submitted report's files are never sent again: its sealing keys go (the
        ciphertext SHA-256s stay, as the record of what the server holds)."""
        self._record(description_key=None)
        for att in self.report.attachments:
            if att.sealed_key is not None:
                self._record_file(att, sealed_key=None)
