"""One report's way to the server: runs the step plan (see plan.py), recording each step.

The folder step is where duplicate and empty folders are avoided:

* Fresh report: each candidate name ("Title", "Title (2)", ...) is recorded in the index as the
  report's folder *before* its MKCOL; 201 means it is ours, 405 means taken -> next candidate.
* Report with a recorded folder and content already confirmed (description or a file sent):
  the folder is ours; one MKCOL makes sure it still exists (405 is fine).
* Recorded but unconfirmed folder (a kill between recording and MKCOL, or between MKCOL and the
  next step): MKCOL 201 -> ours now. 405 -> PROPFIND Depth 1: when the folder is empty or holds
  nothing but this report's description file (same size and SHA-256) it is ours and is
  reused; otherwise someone else took the name and the next candidate is tried. So a resume
  never leaves an empty extra folder.

Everything that depends on the report's layout (readable or sealed: names, bodies, sizes, the
digest the server must report) comes from its ``ReportWire`` (sealing.py).
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from tellakit.engine.chunking import Tuning
from tellakit.engine.confirm import Confirmed, ConfirmedHook, Piece, ignore
from tellakit.engine.control import StopToken, check
from tellakit.engine.naming import join_remote
from tellakit.engine.plan import StepKind, plan
from tellakit.engine.ports import ChunkedUploadFactory, ProtocolClient, ReportStore
from tellakit.engine.sealing import wire_for
from tellakit.engine.transfer import FileTransfer
from tellakit.errors import VerificationFailed
from tellakit.nextcloud.models import Capabilities, PutResult
from tellakit.reports import Attachment, FileState, Report, Status

log = logging.getLogger(__name__)

MAX_FOLDER_CANDIDATES = 1000

# (attachment or None, bytes sent of that file, file state or None)
ProgressHook = Callable[[Report, "Attachment | None", int], None]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _sha256_of(hashes: Mapping[str, str]) -> str | None:
    for key, value in hashes.items():
        if key.lower().replace("-", "") == "sha256" and value:
            return value.lower()
    return None


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
        self.report: Report = vault.get_report(report_id)
        # The connection's encryption settings count only for a report not fixed yet.
        self.wire = wire_for(
            vault,
            self.report,
            encrypt_to=encrypt_to,
            readable_names=readable_names,
            tellakit_version=tellakit_version,
        )
        self._put_results: dict[str, PutResult | None] = {}

    # --- driver -----------------------------------------------------------------------

    def run(self) -> Report:
        """Run every remaining step; returns the report, now SUBMITTED."""
        manifest = self.upload_manifest or self.wire.manifest_always
        for step in plan(self.report, upload_manifest=manifest):
            check(self.token)
            if step.kind is StepKind.NAMES:
                self._choose_file_names()
            elif step.kind is StepKind.FOLDER:
                self._choose_folder()
            elif step.kind is StepKind.DESCRIPTION:
                self._send_description()
            elif step.kind is StepKind.UPLOAD:
                self._upload(self._att(step.attachment_id))
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

    # --- 2. folder ----------------------------------------------------------------------

    def _content_confirmed(self) -> bool:
        return self.report.description_sent or any(
            a.state in (FileState.UPLOADED, FileState.VERIFIED) or a.bytes_sent > 0
            for a in self.report.attachments
        )  # the description is sent first, so this is "description sent" in practice

    def _looks_ours(self, folder: str) -> bool:
        """True when ``folder`` holds only what this report could have put there unrecorded.

        Called only while nothing is confirmed (the description goes first, so no file was
        sent either): the folder is ours if it is empty, or holds just our description.txt
        (same size, and same SHA-256 when the server tells it), sent right before a kill.
        """
        entries = self.client.propfind(folder, depth=1)
        own = folder.strip("/")
        name = self.wire.description_name
        desc = self.wire.description()
        for entry in entries:
            if entry.path.strip("/") == own:
                continue
            if entry.is_dir or entry.name != name or entry.size != len(desc):
                return False
            sha = _sha256_of(self.client.file_hashes(join_remote(own, name)))
            if sha is not None and sha != hashlib.sha256(desc).hexdigest():
                return False
        return True

    def _choose_folder(self) -> None:
        self.client.ensure_folder(self.root)
        recorded = self.report.remote_folder
        taken = None
        if recorded:
            if self._content_confirmed():
                self.client.mkcol(recorded)  # still there? (405 = yes, it is ours)
                return
            if self.client.mkcol(recorded) or self._looks_ours(recorded):
                return
            # Someone else holds that name: continue with the candidates after it.
            taken = recorded.rsplit("/", 1)[-1]
        names = self.wire.folder_names(self.rules, after=taken)
        for _ in range(MAX_FOLDER_CANDIDATES):
            check(self.token)
            path = join_remote(self.root, next(names))
            # Recorded before the MKCOL: a kill between the two is caught by _looks_ours.
            self._record(remote_folder=path)
            if self.client.mkcol(path):
                return
        raise VerificationFailed(
            f"no free folder name for this report in {self.root} after "
            f"{MAX_FOLDER_CANDIDATES} tries"
        )

    def _folder(self) -> str:
        assert self.report.remote_folder is not None
        return self.report.remote_folder

    # --- 3. description -----------------------------------------------------------------

    def _put_bytes(self, name: str, data: bytes) -> None:
        """One small file of the report's own (description, manifest) into its folder.

        Its bytes are what goes on the wire (sealed: the age file), so the announced checksum
        and the server's ``X-Hash`` answer, when it gives one, are of those bytes.
        """
        path = join_remote(self._folder(), name)
        digest = hashlib.sha256(data).hexdigest()
        result = self.client.put(
            path, io.BytesIO(data), len(data), cancel=self.token, checksum_sha256_hex=digest
        )
        server_sha = _sha256_of(result.hashes)
        if server_sha is not None and server_sha != digest:
            raise VerificationFailed(
                f"Verification failed: the server's SHA-256 of {name} differs from what was sent.",
                path=path,
            )

    def _send_description(self) -> None:
        self._put_bytes(self.wire.description_name, self.wire.description())
        self._record(description_sent=True)
        self.on_confirmed(Confirmed(Piece.DESCRIPTION))
        self.on_progress(self.report, None, 0)

    # --- 4. files -----------------------------------------------------------------------

    def _upload(self, att: Attachment) -> None:
        assert att.remote_name is not None
        remote_path = join_remote(self._folder(), att.remote_name)
        if att.state is FileState.FAILED:
            # A failed verification: start the file again from nothing.
            self._record_file(att, transfer_id=None, bytes_sent=0, chunk_size=None)
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
            on_progress=lambda n: self.on_progress(self.report, att, body.plain_bytes(n)),
            on_confirmed=self.on_confirmed,
        )
        self.on_progress(self.report, att, body.plain_bytes(att.bytes_sent))
        self._put_results[att.id] = transfer.run()
        self.on_progress(self.report, att, att.size)

    # --- 5. verify ----------------------------------------------------------------------

    def _verify(self, att: Attachment) -> None:
        path = att.remote_path or join_remote(self._folder(), att.remote_name or "")
        entries = self.client.propfind(path, depth=0)
        size = entries[0].size if entries else None
        body = self.wire.file(att)
        problem = None
        server_sha = None
        if size != body.size:
            problem = f"the server holds {size} bytes of {att.name!r}, not the {body.size} sent"
        else:
            result = self._put_results.get(att.id)
            server_sha = _sha256_of(result.hashes) if result is not None else None
            if server_sha is None:
                server_sha = _sha256_of(self.client.file_hashes(path))
            if server_sha is not None and server_sha != body.expected_sha256():
                problem = f"the server's SHA-256 of {att.name!r} differs from the vault's"
        if problem is not None:
            self._record_file(att, state=FileState.FAILED, error=problem)
            self.on_progress(self.report, att, 0)
            raise VerificationFailed(f"Verification failed: {problem}.", path=path)
        checksum = f"SHA256:{server_sha}" if server_sha else None
        self._record_file(att, state=FileState.VERIFIED, checksum=checksum, verified_at=_now())
        self.on_confirmed(Confirmed(Piece.VERIFIED, att.id, att.size))
        self.on_progress(self.report, att, att.size)

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
