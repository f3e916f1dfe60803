"""A report folder's manifest: build the sealed one, parse either one strictly.

Two formats (docs/server-layout.md has both schemas):

- ``tellakit-report`` v1, ``manifest.json`` in clear, written by the engine for the readable
  layout; parsed here for the organization's side. Keys this parser does not know are
  ignored, so the engine can add some without breaking older readers.
- ``tellakit-sealed-report`` v1, the plaintext of ``manifest.json.age``: everything the sealed
  layout hides (title, original names, MIME types, capture times), and for each sealed file
  its plaintext size and SHA-256 and its ciphertext size and SHA-256. Exactly the keys below;
  anything else, a missing key or a value of the wrong type is refused.

``parse_manifest`` raises ``ReportManifestError`` naming the first problem; nothing half-read
is returned. Both parse to one ``ReportManifest``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from tellakit.errors import ReportManifestError
from tellakit.sealed.key import chunk_count
from tellakit.sealed.layout import (
    READABLE_DESCRIPTION,
    READABLE_MANIFEST,
    SEALED_DESCRIPTION,
    attachment_name,
)
from tellakit.vault.age.header import MAX_HEADER
from tellakit.vault.age.stream import NONCE_SIZE, TAG

READABLE_FORMAT = "tellakit-report"
SEALED_FORMAT = "tellakit-sealed-report"
FORMAT_VERSION = 1
#: A manifest larger than this is refused before parsing (a hostile server could send GiBs).
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")

_SEALED_KEYS = frozenset(
    {
        "format",
        "format_version",
        "tellakit_version",
        "report_id",
        "title",
        "folder",
        "created_at",
        "submitted_at",
        "description",
        "files",
    }
)
_SEALED_DESCRIPTION_KEYS = frozenset(
    {"name", "size", "sha256", "ciphertext_size", "ciphertext_sha256"}
)
_SEALED_FILE_KEYS = _SEALED_DESCRIPTION_KEYS | {"original_name", "mime", "captured_at"}
_READABLE_KEYS = _SEALED_KEYS - {"report_id"}
_READABLE_DESCRIPTION_KEYS = frozenset({"name", "size", "sha256"})
_READABLE_FILE_KEYS = frozenset(
    {"name", "original_name", "size", "sha256", "mime", "captured_at", "server_checksum"}
)


@dataclass(frozen=True)
class ManifestFile:
    """One file of a report folder: where it is on the server and what it must contain.

    ``size`` and ``sha256`` are the plaintext's; ``ciphertext_size`` and ``ciphertext_sha256``
    describe the ``.age`` file on the server (None in the readable layout, where the file on
    the server is the plaintext). ``server_checksum`` is what the server confirmed at upload
    (readable layout only).
    """

    name: str
    original_name: str
    size: int
    sha256: str
    mime: str | None = None
    captured_at: datetime | None = None
    ciphertext_size: int | None = None
    ciphertext_sha256: str | None = None
    server_checksum: str | None = None

    @property
    def remote_size(self) -> int:
        """The size of the file as the server should hold it."""
        return self.size if self.ciphertext_size is None else self.ciphertext_size


@dataclass(frozen=True)
class ReportManifest:
    """What a report folder holds, from either format (``sealed`` says which)."""

    sealed: bool
    tellakit_version: str
    title: str
    folder: str
    created_at: datetime | None
    submitted_at: datetime | None
    description: ManifestFile
    files: tuple[ManifestFile, ...]
    report_id: str | None = None

    @property
    def entries(self) -> tuple[ManifestFile, ...]:
        """The description, then every attachment: each file the folder must hold."""
        return (self.description, *self.files)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_sealed_manifest(manifest: ReportManifest) -> bytes:
    """The plaintext of ``manifest.json.age`` (UTF-8 JSON), checked by parsing it back."""
    if not manifest.sealed or manifest.report_id is None:
        raise ValueError("build_sealed_manifest needs a sealed manifest with a report id")

    def sealed(f: ManifestFile) -> dict[str, Any]:
        return {
            "name": f.name,
            "size": f.size,
            "sha256": f.sha256,
            "ciphertext_size": f.ciphertext_size,
            "ciphertext_sha256": f.ciphertext_sha256,
        }

    doc = {
        "format": SEALED_FORMAT,
        "format_version": FORMAT_VERSION,
        "tellakit_version": manifest.tellakit_version,
        "report_id": manifest.report_id,
        "title": manifest.title,
        "folder": manifest.folder,
        "created_at": _iso(manifest.created_at),
        "submitted_at": _iso(manifest.submitted_at),
        "description": sealed(manifest.description),
        "files": [
            {
                **sealed(f),
                "original_name": f.original_name,
                "mime": f.mime,
                "captured_at": _iso(f.captured_at),
            }
            for f in manifest.files
        ],
    }
    data = (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    parse_manifest(data)  # never write what the organization's side would refuse
    return data


# --- parsing ------------------------------------------------------------------------------


def _fail(message: str) -> ReportManifestError:
    return ReportManifestError(f"The report's manifest is unusable: {message}.")


def _keys(obj: Any, where: str, required: frozenset[str], *, exact: bool) -> Mapping[str, Any]:
    if not isinstance(obj, dict):
        raise _fail(f"{where} is not a JSON object")
    missing = sorted(required - obj.keys())
    if missing:
        raise _fail(f"{where} lacks {', '.join(missing)}")
    extra = sorted(obj.keys() - required)
    if exact and extra:
        raise _fail(f"{where} has unknown keys {', '.join(extra)}")
    return obj


def _str(obj: Mapping[str, Any], key: str, where: str, *, optional: bool = False) -> Any:
    value = obj[key]
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _fail(f"{where}.{key} is not a string")
    return value


def _size(obj: Mapping[str, Any], key: str, where: str) -> int:
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(f"{where}.{key} is not a byte count")
    return value


def _sha256(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj[key]
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise _fail(f"{where}.{key} is not a lowercase hex SHA-256")
    return value


def _time(obj: Mapping[str, Any], key: str, where: str) -> datetime | None:
    value = obj[key]
    if value is None:
        return None
    if not isinstance(value, str) or not value.endswith("Z"):
        raise _fail(f"{where}.{key} is not a UTC time ending in Z")
    try:
        parsed = datetime.fromisoformat(value[:-1])
    except ValueError:
        raise _fail(f"{where}.{key} is not an ISO 8601 time") from None
    if parsed.tzinfo is not None:
        raise _fail(f"{where}.{key} is not a UTC time ending in Z")
    return parsed.replace(tzinfo=timezone.utc)


def _segment(obj: Mapping[str, Any], key: str, where: str) -> str:
    """A name that stays one path segment wherever it is used."""
    value = _str(obj, key, where)
    bad = not value or value in (".", "..") or any(c in value for c in "/\\\x00")
    if bad or any(ord(c) < 0x20 for c in value):
        raise _fail(f"{where}.{key} is not a single file name")
    return str(value)


def _file(obj: Any, where: str, *, sealed: bool, description: bool) -> ManifestFile:
    if sealed:
        required = _SEALED_DESCRIPTION_KEYS if description else _SEALED_FILE_KEYS
    else:
        required = _READABLE_DESCRIPTION_KEYS if description else _READABLE_FILE_KEYS
    entry = _keys(obj, where, required, exact=sealed)
    size = _size(entry, "size", where)
    result = ManifestFile(
        name=_segment(entry, "name", where),
        # Any text: the organization's side turns it into a safe local name itself.
        original_name=(
            READABLE_DESCRIPTION if description else _str(entry, "original_name", where)
        ),
        size=size,
        sha256=_sha256(entry, "sha256", where),
        mime="text/plain" if description else _str(entry, "mime", where, optional=True),
        captured_at=None if description else _time(entry, "captured_at", where),
    )
    if sealed:
        ciphertext_size = _size(entry, "ciphertext_size", where)
        # What is left after the payload is the header and the nonce: more than the nonce,
        # and at most a header's maximum. Catches sizes that cannot belong to this plaintext.
        overhead = ciphertext_size - size - TAG * chunk_count(size) - NONCE_SIZE
        if not 0 < overhead <= MAX_HEADER:
            raise _fail(f"{where}.ciphertext_size does not fit a sealed file of {size} bytes")
        return replace(
            result,
            ciphertext_size=ciphertext_size,
            ciphertext_sha256=_sha256(entry, "ciphertext_sha256", where),
        )
    if not description:
        return replace(result, server_checksum=_str(entry, "server_checksum", where, optional=True))
    return result


def parse_manifest(data: bytes) -> ReportManifest:
    """A manifest of either format, checked strictly (ReportManifestError naming the problem)."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise _fail(f"it is larger than {MAX_MANIFEST_BYTES // (1024 * 1024)} MiB")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _fail("it is not UTF-8 JSON") from None
    if not isinstance(doc, dict) or doc.get("format") not in (SEALED_FORMAT, READABLE_FORMAT):
        raise _fail(f"its format is neither {SEALED_FORMAT!r} nor {READABLE_FORMAT!r}")
    sealed = doc["format"] == SEALED_FORMAT
    version = doc.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise _fail(
            f"format version {version!r} is not {FORMAT_VERSION} (written by a newer tellakit?)"
        )
    top = _keys(doc, "the manifest", _SEALED_KEYS if sealed else _READABLE_KEYS, exact=sealed)
    where = "the manifest"
    description = _file(top["description"], "description", sealed=sealed, description=True)
    if not isinstance(top["files"], list):
        raise _fail("files is not a list")
    files = tuple(
        _file(f, f"files[{i}]", sealed=sealed, description=False)
        for i, f in enumerate(top["files"])
    )
    _check_names(description, files, sealed=sealed)
    report_id = None
    if sealed:
        report_id = _str(top, "report_id", where)
        if not report_id:
            raise _fail("report_id is empty")
    return ReportManifest(
        sealed=sealed,
        tellakit_version=_str(top, "tellakit_version", where),
        title=_str(top, "title", where),
        folder=_str(top, "folder", where),
        created_at=_time(top, "created_at", where),
        submitted_at=_time(top, "submitted_at", where),
        description=description,
        files=files,
        report_id=report_id,
    )


def _check_names(
    description: ManifestFile, files: tuple[ManifestFile, ...], *, sealed: bool
) -> None:
    if sealed:
        if description.name != SEALED_DESCRIPTION:
            raise _fail(f"description.name is not {SEALED_DESCRIPTION!r}")
        for number, f in enumerate(files, start=1):
            if f.name != attachment_name(number):
                raise _fail(f"files[{number - 1}].name is not {attachment_name(number)!r}")
        return
    if description.name != READABLE_DESCRIPTION:
        raise _fail(f"description.name is not {READABLE_DESCRIPTION!r}")
    seen = {READABLE_DESCRIPTION, READABLE_MANIFEST}
    for i, f in enumerate(files):
        if f.name.casefold() in seen:
            raise _fail(f"files[{i}].name {f.name!r} is used twice or reserved")
        seen.add(f.name.casefold())
