"""``pull``: bring new report folders from Nextcloud to the organization's disk, verified.

For every folder under the root that DEST does not hold yet:

1. list it (PROPFIND) and find its manifest: ``manifest.json.age`` (sealed layout) or
   ``manifest.json`` (readable layout). Without one it is *waiting* (still being submitted,
   or written by Tella or with the manifest off) and is looked at again next time;
2. read the manifest (a sealed one is decrypted with the identity: no stanza for it means the
   report was encrypted to someone else) and parse it strictly;
3. check that every file it lists is on the server with the listed size, before downloading;
4. download each file (resumable), compare the SHA-256 of what arrived with the manifest
   (the ciphertext's for a sealed file), decrypt it and compare the plaintext's size and
   SHA-256 too;
5. write the report into a hidden work folder in DEST under the original names (plus
   ``description.txt`` and the manifest), and rename it to ``DEST/<date> <title>/`` only when
   every file verified. A report that fails leaves nothing in DEST.

Only GET and PROPFIND go to the server: nothing there is changed, moved or deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tellakit.errors import (
    AgeError,
    AgeNoMatch,
    ReportManifestError,
    RetryableError,
    UnexpectedResponse,
)
from tellakit.nextcloud import Credentials, DavEntry, NextcloudClient
from tellakit.nextcloud.urls import split_dav_path
from tellakit.org.download import download, part_path
from tellakit.org.identity import Passphrase, load_identities
from tellakit.org.localnames import local_names, unique_local_name
from tellakit.org.state import ASSEMBLY, DOWNLOADS, PullState
from tellakit.sealed.layout import (
    READABLE_DESCRIPTION,
    READABLE_MANIFEST,
    SEALED_MANIFEST,
    Layout,
    layout_of,
)
from tellakit.sealed.manifest import (
    MAX_MANIFEST_BYTES,
    ManifestFile,
    ReportManifest,
    parse_manifest,
)
from tellakit.vault import age
from tellakit.vault.age.header import MAX_HEADER
from tellakit.vault.fsutil import fsync_dir

if TYPE_CHECKING:
    import pandas as pd

VERIFIED = "verified"
FAILED = "failed"
WAITING = "waiting"
#: The columns of the table ``pull`` returns, in order.
COLUMNS = ("report", "title", "date", "layout", "files", "bytes", "status", "reason", "dest")
WAITING_REASON = (
    "no manifest yet: still being submitted, or written by Tella or with the manifest "
    "turned off (nothing to check it against)"
)
READ_SIZE = 1024 * 1024


@dataclass
class PulledReport:
    """One row of the table: a report folder on the server and what became of it."""

    report: str  # the folder's name on the server
    title: str | None = None
    date: str | None = None  # YYYY-MM-DD the report was created (UTC)
    layout: str | None = None  # "sealed" or "readable"
    files: int | None = None  # attachments
    bytes: int | None = None  # plaintext bytes of the attachments
    status: str = FAILED  # verified, failed or waiting
    reason: str = ""  # why it failed or waits; empty when verified
    dest: str | None = None  # the folder in DEST


class Refused(Exception):
    """One report cannot be accepted; the message is the reason shown in the table."""


def pull(
    server_url: str,
    login: str,
    password: str,
    root: str,
    identity: str | os.PathLike[str] | Sequence[age.Identity],
    dest: str | os.PathLike[str],
    *,
    passphrase: Passphrase = None,
    allow_insecure_http: bool = False,
    on_report: Callable[[PulledReport], None] | None = None,
) -> pd.DataFrame:
    """Pull every new report under ``root`` into ``dest``; one row per report looked at.

    ``identity`` is the path of the organization's identity file (``passphrase`` opens a
    protected one: a string, or a function asked only when needed) or identities already
    loaded. ``on_report`` is called after each report. Reports pulled before (recorded in
    ``dest/.tellakit-pull/state.json``) are skipped and not listed. Server errors that stop
    everything (login refused, TLS, server not Nextcloud) are raised.
    """
    identities = (
        load_identities(identity, passphrase)
        if isinstance(identity, (str, os.PathLike))
        else list(identity)
    )
    target = Path(dest)
    target.mkdir(parents=True, exist_ok=True)
    creds = Credentials(server_url, login, password, allow_insecure_http)
    with NextcloudClient(creds) as client:
        rows = pull_with(client, root, identities, target, on_report=on_report)
    return table(rows)


def table(rows: Sequence[PulledReport]) -> pd.DataFrame:
    """The rows as a DataFrame with ``COLUMNS`` (nullable integers for counts)."""
    import pandas as pd

    frame = pd.DataFrame([asdict(r) for r in rows], columns=list(COLUMNS))
    for column in ("files", "bytes"):
        frame[column] = frame[column].astype("Int64")
    return frame


def pull_with(
    client: NextcloudClient,
    root: str,
    identities: Sequence[age.Identity],
    dest: Path,
    *,
    on_report: Callable[[PulledReport], None] | None = None,
) -> list[PulledReport]:
    """``pull`` with a client already made (tests, notebooks); returns the rows."""
    state = PullState.load(dest)
    state.remove_leftovers()
    root_path = "/".join(split_dav_path(root))
    folders = sorted((e for e in client.listdir(root_path) if e.is_dir), key=lambda e: e.name)
    rows = []
    for entry in folders:
        source = client.files_url(entry.path)
        if state.is_pulled(source):
            continue
        row = _pull_report(client, entry, identities, state, source)
        rows.append(row)
        if on_report is not None:
            on_report(row)
    return rows


def _pull_report(
    client: NextcloudClient,
    folder: DavEntry,
    identities: Sequence[age.Identity],
    state: PullState,
    source: str,
) -> PulledReport:
    row = PulledReport(folder.name)
    work = state.work_folder(source)
    assembled = work / ASSEMBLY
    try:
        listing = {e.name: e for e in client.listdir(folder.path) if not e.is_dir}
        layout = layout_of(listing)
        if layout is None:
            row.status, row.reason = WAITING, WAITING_REASON
            return row
        row.layout = str(layout)
        downloads = work / DOWNLOADS
        downloads.mkdir(parents=True, exist_ok=True)
        raw = _manifest_bytes(client, folder, listing, layout, downloads, identities)
        manifest = _parse(raw, layout)
        row.title = manifest.title
        row.date = _date(manifest)
        row.files = len(manifest.files)
        row.bytes = sum(f.size for f in manifest.files)
        _check_listing(manifest, listing)
        if assembled.exists():
            shutil.rmtree(assembled)
        assembled.mkdir(parents=True)
        _fetch_files(client, folder, listing, manifest, downloads, assembled, identities)
        _write(assembled / READABLE_MANIFEST, raw)
        row.dest = _publish(state, source, assembled, f"{row.date} {manifest.title}")
        shutil.rmtree(work, ignore_errors=True)
        row.status = VERIFIED
    except (Refused, ReportManifestError, UnexpectedResponse) as exc:
        row.reason = str(exc)
    except RetryableError as exc:
        row.reason = f"{exc} Run the pull again: downloads continue where they stopped."
    finally:
        if assembled.exists():  # plaintext of a report that did not verify: not kept
            shutil.rmtree(assembled, ignore_errors=True)
    return row


def _date(manifest: ReportManifest) -> str:
    when = manifest.created_at or manifest.submitted_at
    return "undated" if when is None else when.strftime("%Y-%m-%d")


def _manifest_bytes(
    client: NextcloudClient,
    folder: DavEntry,
    listing: dict[str, DavEntry],
    layout: Layout,
    downloads: Path,
    identities: Sequence[age.Identity],
) -> bytes:
    name = SEALED_MANIFEST if layout is Layout.SEALED else READABLE_MANIFEST
    entry = listing[name]
    limit = MAX_MANIFEST_BYTES + (MAX_HEADER if layout is Layout.SEALED else 0)
    if entry.size is None or entry.size > limit:
        raise Refused(f"{name} is missing its size or is larger than a manifest can be")
    part = part_path(downloads, name, entry.etag)
    download(client, f"{folder.path}/{name}", part, size=entry.size, etag=entry.etag)
    data = part.read_bytes()
    if layout is Layout.READABLE:
        return data
    try:
        return age.decrypt_bytes(data, identities)
    except AgeNoMatch:
        raise Refused(
            "not encrypted to this organization's key (a report for another recipient, or "
            "the wrong identity file)"
        ) from None
    except AgeError as exc:
        part.unlink(missing_ok=True)
        raise Refused(f"{name} cannot be decrypted ({exc}): damaged or altered") from None


def _parse(raw: bytes, layout: Layout) -> ReportManifest:
    manifest = parse_manifest(raw)
    if manifest.sealed != (layout is Layout.SEALED):
        raise Refused("the manifest's format does not match the folder's layout")
    return manifest


def _check_listing(manifest: ReportManifest, listing: dict[str, DavEntry]) -> None:
    """Every listed file present with its size, before any download."""
    for f in manifest.entries:
        remote = listing.get(f.name)
        if remote is None:
            raise Refused(f"missing on the server: {_label(f)}")
        if remote.size != f.remote_size:
            raise Refused(
                f"{_label(f)} has {remote.size} bytes on the server, the manifest says "
                f"{f.remote_size}: altered or truncated"
            )


def _label(f: ManifestFile) -> str:
    return f.name if f.name == f.original_name else f"{f.name} ({f.original_name})"


def _fetch_files(
    client: NextcloudClient,
    folder: DavEntry,
    listing: dict[str, DavEntry],
    manifest: ReportManifest,
    downloads: Path,
    assembled: Path,
    identities: Sequence[age.Identity],
) -> None:
    names = [
        READABLE_DESCRIPTION,
        *local_names(
            (f.original_name for f in manifest.files),
            reserved=(READABLE_DESCRIPTION, READABLE_MANIFEST),
        ),
    ]
    for f, local in zip(manifest.entries, names, strict=True):
        remote = listing[f.name]
        part = part_path(downloads, f.name, remote.etag)
        digest = download(
            client, f"{folder.path}/{f.name}", part, size=f.remote_size, etag=remote.etag
        )
        expected = f.ciphertext_sha256 if manifest.sealed else f.sha256
        if digest != expected:
            part.unlink()
            raise Refused(
                f"{_label(f)} was altered on the server: its SHA-256 differs from the manifest's"
            )
        if manifest.sealed:
            _decrypt(part, assembled / local, identities, f)
        else:
            os.replace(part, assembled / local)


def _decrypt(part: Path, target: Path, identities: Sequence[age.Identity], f: ManifestFile) -> None:
    digest = hashlib.sha256()
    size = 0
    with open(part, "rb") as source, open(target, "xb") as out:
        try:
            for chunk in age.iter_decrypt_file(source, identities):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        except AgeNoMatch:
            raise Refused(f"{_label(f)} is not encrypted to this organization's key") from None
        except AgeError as exc:
            raise Refused(f"{_label(f)} cannot be decrypted: {exc}") from None
        out.flush()
        os.fsync(out.fileno())
    if size != f.size or digest.hexdigest() != f.sha256:
        raise Refused(
            f"{_label(f)}: the decrypted content does not match the manifest's size and SHA-256"
        )


def _write(path: Path, data: bytes) -> None:
    with open(path, "xb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _publish(state: PullState, source: str, assembled: Path, wanted: str) -> str:
    """Rename the finished report into DEST under a free name; returns that name."""
    fsync_dir(assembled)
    taken = [p.name for p in state.dest.iterdir()]
    name = unique_local_name(wanted, taken, is_file=False, fallback="report")
    state.begin(source, name)
    try:
        os.rename(assembled, state.dest / name)
    except BaseException:
        with contextlib.suppress(KeyError):
            del state.pulled[source]
            state.save()
        raise
    fsync_dir(state.dest)
    state.finish(source)
    return name


def format_row(row: PulledReport) -> str:
    """One report as ``tellakit org pull`` prints it."""
    result = f"verified -> {row.dest}/" if row.status == VERIFIED else f"{row.status}: {row.reason}"
    files = "" if row.files is None else str(row.files)
    title = (row.title or "")[:32]
    return f"{row.report:<24} {title:<32} {row.layout or '':<8} {files:>5}  {result}"
