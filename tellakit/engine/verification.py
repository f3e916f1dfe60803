"""Whether the server holds exactly the bytes that were sent: one uploaded object at a time.

The evidence is a ``ServerDigest``, a SHA-256 computed from the bytes the server holds, of one
of three kinds, tried in this order (cheapest first):

1. the upload's own answer (``X-Hash-SHA256`` of the PUT or of the final MOVE), recorded with
   the file when it was confirmed, so a restart between upload and verification keeps it;
2. ``PATCH`` with ``X-Recalculate-Hash: sha256`` (Nextcloud 24+): the server reads the stored
   file back and hashes it;
3. tellakit's own streamed download and hash (constant memory, resumed with ``Range``,
   cancelled by a pause), when the connection's ``without_digest`` is ``"download"`` (the
   default). It moves every byte over the link a second time.

When none is available (``without_digest = "size_only"``) only the size is compared, and the
file is recorded as "size checked, content not verified". What a client sent, the
``OC-Checksum`` header that Nextcloud stores verbatim as ``oc:checksums``, is never read here:
comparing it would compare the vault's hash with itself.

A digest that matches implies the size (SHA-256 covers the length), so the size is read
(PROPFIND) only when there is no digest.

Each object is compared with one value, its ``WireObject`` (sealing.py): the SHA-256 and
size of the bytes actually sent (the plaintext of a readable report; what a sealed upload
sends, its ciphertext, for a sealed one). Nothing here knows which. Its SHA-256 is read only
once the server gave a digest (for a sealed file resumed mid-way it costs one pass).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tellakit.engine.ports import Cancel, ProtocolClient
from tellakit.nextcloud.models import DavEntry, DigestKind, ServerDigest
from tellakit.reports import Verification
from tellakit.vault.models import WITHOUT_DIGEST_DOWNLOAD

if TYPE_CHECKING:
    from tellakit.engine.sealing import WireObject

log = logging.getLogger(__name__)

ByteProgress = Callable[[int], None]

#: The first Nextcloud major version with ``PATCH X-Recalculate-Hash`` (ChecksumUpdatePlugin).
RECALCULATE_SINCE = 24

#: The level a file is recorded with, for each kind of digest.
LEVEL_OF: dict[DigestKind, Verification] = {
    DigestKind.UPLOAD_ANSWER: Verification.SERVER_SHA256,
    DigestKind.RECALCULATED: Verification.RECALCULATED,
    DigestKind.DOWNLOAD: Verification.DOWNLOAD,
}
_KIND_WORDS = {
    DigestKind.UPLOAD_ANSWER: "the SHA-256 the server answered to the upload",
    DigestKind.RECALCULATED: "the SHA-256 the server recalculated",
    DigestKind.DOWNLOAD: "the SHA-256 of the copy downloaded back",
}


@dataclass(frozen=True)
class Checked:
    """The outcome of checking one object: its level and digest, or the problem found."""

    verification: Verification | None
    digest: ServerDigest | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """True when the server holds the object as sent (at the recorded level)."""
        return self.problem is None

    @property
    def checksum(self) -> str | None:
        """``"SHA256:<hex>"`` of the server's digest, or None when only the size was checked."""
        return None if self.digest is None else f"SHA256:{self.digest.sha256}"


def encode_digest(digest: ServerDigest | None) -> str | None:
    """The index's form of a digest, ``"<kind>:<hex>"`` (None stays None)."""
    return None if digest is None else f"{digest.kind.value}:{digest.sha256}"


def decode_digest(stored: str | None) -> ServerDigest | None:
    """The digest of :func:`encode_digest`'s form; None for None or anything unreadable."""
    if not stored:
        return None
    kind, _, sha = stored.partition(":")
    try:
        return ServerDigest(DigestKind(kind), sha.lower())
    except ValueError:
        log.warning("ignoring an unreadable recorded server digest")
        return None


class Verifier:
    """Checks uploaded objects against what the server computed; one per run of a report.

    ``without_digest`` is the connection's setting; ``cancel`` the run's stop token (a pause
    stops a download within about a second, raising ``Cancelled``). ``server_version`` (from
    the capabilities) spares a server older than Nextcloud 24 the ``PATCH``; otherwise the
    first answer tells, and is remembered for the run.
    """

    def __init__(
        self,
        client: ProtocolClient,
        *,
        without_digest: str,
        cancel: Cancel | None = None,
        server_version: str = "",
    ) -> None:
        self.client = client
        self.download = without_digest == WITHOUT_DIGEST_DOWNLOAD
        self.cancel = cancel
        #: whether PATCH X-Recalculate-Hash works here; None until known
        self._recalculates: bool | None = None
        major = server_version.split(".", 1)[0]
        if major.isdigit() and int(major) < RECALCULATE_SINCE:
            self._recalculates = False

    def server_digest(
        self,
        path: str,
        *,
        known: ServerDigest | None = None,
        on_progress: ByteProgress | None = None,
    ) -> ServerDigest | None:
        """The server's SHA-256 of ``path``: ``known`` (the upload's answer) when given, else
        a recalculation, else a download (when the connection allows it), else None."""
        if known is not None:
            return known
        if self._recalculates is not False:
            digest = self.client.recalculated_digest(path)
            self._recalculates = digest is not None
            if digest is not None:
                return digest
        if not self.download:
            return None
        return self.client.download_sha256(path, cancel=self.cancel, on_progress=on_progress)

    def recalculated_digests(
        self, paths: list[str], *, parallel: int = 4
    ) -> dict[str, ServerDigest]:
        """The server's recalculated SHA-256 of each of ``paths`` (files just stored by a bulk
        request), asked ``parallel`` at a time after a first answer showed the server has
        ``PATCH X-Recalculate-Hash``: one round trip for the lot on a slow link. Paths the
        server gives none for are missing from the result (then verified one by one)."""
        if self._recalculates is False or not paths:
            return {}
        first, rest = paths[0], paths[1:]
        digest = self.client.recalculated_digest(first)
        self._recalculates = digest is not None
        if digest is None:
            return {}
        found = {first: digest}
        if rest:
            with ThreadPoolExecutor(min(parallel, len(rest))) as pool:
                answers = pool.map(self.client.recalculated_digest, rest)
                for path, other in zip(rest, answers, strict=True):
                    if other is not None:
                        found[path] = other
        return found

    def check(
        self,
        path: str,
        sent: WireObject,
        *,
        name: str,
        known: ServerDigest | None = None,
        on_progress: ByteProgress | None = None,
    ) -> Checked:
        """Compare what the server holds at ``path`` with ``sent``; ``name`` names it in the
        problem. Server errors (404, 5xx, a cut the download cannot resume) raise as usual."""
        digest = self.server_digest(path, known=known, on_progress=on_progress)
        if digest is None:
            entry = self.client.stat(path)
            size = None if entry is None or entry.is_dir else entry.size
            if size != sent.size:
                held = "nothing" if size is None else f"{size} bytes"
                return Checked(
                    None, problem=f"the server holds {held} of {name!r}, not the {sent.size} sent"
                )
            return Checked(Verification.SIZE_ONLY)
        return _compare(digest, sent, name)

    def holds(self, entry: DavEntry | None, path: str, sent: WireObject) -> Checked:
        """Whether ``path`` (its PROPFIND ``entry``) already holds ``sent``: for a final MOVE
        or PUT whose answer was lost. The size first (no request), then the server's digest;
        never the upload being adopted on its size alone unless the connection asks for
        size-only checks (and then it is recorded as such)."""
        name = path.rsplit("/", 1)[-1]
        if entry is None or entry.is_dir or entry.size != sent.size:
            return Checked(None, problem=f"the server holds no file {name!r} of that size")
        digest = self.server_digest(path)
        if digest is None:
            return Checked(Verification.SIZE_ONLY)
        return _compare(digest, sent, name)


def _compare(digest: ServerDigest, sent: WireObject, name: str) -> Checked:
    """``digest`` against what was sent."""
    if digest.size is not None and digest.size != sent.size:
        return Checked(
            None,
            digest,
            f"the server holds {digest.size} bytes of {name!r}, not the {sent.size} sent",
        )
    if not digest.matches(sent.sha256):
        return Checked(
            None, digest, f"{_KIND_WORDS[digest.kind]} of {name!r} differs from what was sent"
        )
    return Checked(LEVEL_OF[digest.kind], digest)
