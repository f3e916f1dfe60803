"""manifest.json: what a report folder holds, for the team that receives it.

Schema (format "tellakit-report", version 1) is documented in docs/server-layout.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timezone

from tellakit.reports import Report

FORMAT = "tellakit-report"
FORMAT_VERSION = 1


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def description_bytes(report: Report) -> bytes:
    """The exact bytes of description.txt: the description text only, UTF-8."""
    return report.description.encode("utf-8")


def build_manifest(
    report: Report,
    *,
    folder_name: str,
    submitted_at: datetime,
    captured_at: Mapping[str, datetime | None],
    tellakit_version: str,
) -> bytes:
    """manifest.json bytes for ``report`` (attachments must have their remote names).

    ``captured_at`` maps a vault file id to the time it was imported into the vault.
    """
    desc = description_bytes(report)
    files = []
    for a in sorted(report.attachments, key=lambda a: a.position):
        files.append(
            {
                "name": a.remote_name,
                "original_name": a.name,
                "size": a.size,
                "sha256": a.sha256,
                "mime": a.mime,
                "captured_at": _iso(captured_at.get(a.file_id)),
                "server_checksum": a.checksum,
                "verification": None if a.verification is None else a.verification.value,
            }
        )
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tellakit_version": tellakit_version,
        "title": report.title,
        "folder": folder_name,
        "created_at": _iso(report.created_at),
        "submitted_at": _iso(submitted_at),
        "description": {
            "name": "description.txt",
            "size": len(desc),
            "sha256": hashlib.sha256(desc).hexdigest(),
        },
        "files": files,
    }
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
