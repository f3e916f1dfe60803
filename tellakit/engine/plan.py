"""The step plan of one report: what is left to do, read from the index alone.

A submission is a fixed sequence of steps; each one is recorded in the index when it completes,
so the plan computed from a freshly reopened vault (after a crash or kill -9) starts exactly
where the last run stopped:

1. NAMES       choose every attachment's server name (clash-free), recorded before any upload
2. FOLDER      create (or re-adopt) the report folder, recorded before any content is sent
   BULK        on a server with bulk upload: the description and the small files still to
               send, in one request per group (``BulkPolicy``); each file it stored is
               recorded as uploaded, the others go on to their own UPLOAD step
3. DESCRIPTION description.txt in one PUT (nothing to do when a BULK step sent it)
4. UPLOAD n    each attachment (single PUT or resumable chunked upload; nothing to do when a
               BULK step stored it)
5. VERIFY n    the server's SHA-256 of each attachment (verification.py)
6. MANIFEST    manifest.json (unless the connection turns it off)
7. FINISH      mark the report submitted
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tellakit.engine.chunking import BulkPolicy
from tellakit.reports import FileState, Report, Status


class StepKind(str, Enum):
    """The kinds of step, in the order they run."""

    NAMES = "names"
    FOLDER = "folder"
    BULK = "bulk"
    DESCRIPTION = "description"
    UPLOAD = "upload"
    VERIFY = "verify"
    MANIFEST = "manifest"
    FINISH = "finish"


@dataclass(frozen=True)
class Step:
    """One step; ``attachment_id`` is set for UPLOAD and VERIFY; a BULK step names its files
    in ``attachment_ids`` and whether it carries the description."""

    kind: StepKind
    attachment_id: str | None = None
    attachment_ids: tuple[str, ...] = ()
    description: bool = False


def plan(
    report: Report,
    *,
    upload_manifest: bool = True,
    bulk: BulkPolicy | None = None,
    description_size: int = 0,
) -> list[Step]:
    """The steps still to run for ``report``, in order (empty only for a submitted report).

    FOLDER is always planned while anything remains: it is cheap (one MKCOL), makes sure the
    folder still exists, and on a folder recorded but never confirmed it runs the ownership
    check that keeps resume from leaving an empty extra folder. With ``bulk`` (the server
    offers bulk upload) the small files and the description (of ``description_size`` bytes)
    go in BULK steps right after it; a report without such files makes none.
    """
    if report.status is Status.SUBMITTED:
        return []
    steps: list[Step] = []
    atts = sorted(report.attachments, key=lambda a: a.position)
    if any(a.remote_name is None for a in atts):
        steps.append(Step(StepKind.NAMES))
    steps.append(Step(StepKind.FOLDER))
    if bulk is not None:
        small = [a for a in atts if bulk.fits(a)]
        if small:
            desc = None if report.description_sent else description_size
            for ids, carries in bulk.groups(small, desc):
                steps.append(Step(StepKind.BULK, attachment_ids=ids, description=carries))
    if not report.description_sent:
        steps.append(Step(StepKind.DESCRIPTION))
    for a in atts:
        if a.state in (FileState.PENDING, FileState.UPLOADING, FileState.FAILED):
            steps.append(Step(StepKind.UPLOAD, a.id))
            steps.append(Step(StepKind.VERIFY, a.id))
        elif a.state is FileState.UPLOADED:
            steps.append(Step(StepKind.VERIFY, a.id))
    if upload_manifest and not report.manifest_sent:
        steps.append(Step(StepKind.MANIFEST))
    steps.append(Step(StepKind.FINISH))
    return steps
