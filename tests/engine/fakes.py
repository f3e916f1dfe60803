"""In-memory stand-ins for the engine's ports (engine/ports.py): a vault, a server, timers.

They let the engine's decisions (stop, wind-down, another process, close, retry) run in
milliseconds without the development server. Nothing here speaks HTTP: the real protocol is
tested against the development server elsewhere.
"""

from __future__ import annotations

import copy
import hashlib
import io
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tellakit.errors import ReportNotFound
from tellakit.nextcloud import Cancelled
from tellakit.nextcloud.models import Capabilities, DavEntry, DigestKind, PutResult, ServerDigest
from tellakit.reports import Attachment, Report, Status, check_transition
from tellakit.vault.models import ConnectionSettings


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class FakeFile:
    id: str
    name: str
    data: bytes
    imported_at: datetime = field(default_factory=_now)


class FakeVault:
    """A ReportStore in memory. ``writes`` lists every status write (report id, status)."""

    def __init__(self, *, connected: bool = True) -> None:
        self.path = Path("/fake/vault")
        self._lock = threading.RLock()
        self._reports: dict[str, Report] = {}
        self._files: dict[str, FakeFile] = {}
        self.writes: list[tuple[str, Status]] = []
        self.connection = (
            ConnectionSettings("https://cloud.example.org", "alice", "alice", "pw")
            if connected
            else None
        )

    # --- set-up -------------------------------------------------------------------------

    def add_report(self, title: str, files: dict[str, bytes]) -> Report:
        """A draft with one attachment per (name, content)."""
        atts = []
        for position, (name, data) in enumerate(files.items()):
            f = FakeFile(uuid.uuid4().hex, name, data)
            self._files[f.id] = f
            atts.append(
                Attachment(
                    id=uuid.uuid4().hex,
                    file_id=f.id,
                    name=name,
                    mime="application/octet-stream",
                    size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                    position=position,
                )
            )
        now = _now()
        report = Report(
            uuid.uuid4().hex, title, "", Status.DRAFT, None, None, now, now, None, None,
            False, False, 0, atts,
        )  # fmt: skip
        with self._lock:
            self._reports[report.id] = report
        return copy.deepcopy(report)

    def statuses(self, report_id: str) -> list[Status]:
        """Every status written for the report, in order."""
        with self._lock:
            return [status for rid, status in self.writes if rid == report_id]

    # --- ReportStore ------------------------------------------------------------------------

    def _get(self, report_id: str) -> Report:
        try:
            return self._reports[report_id]
        except KeyError:
            raise ReportNotFound(f"no report {report_id}") from None

    def get_report(self, report_id: str) -> Report:
        with self._lock:
            return copy.deepcopy(self._get(report_id))

    def list_reports(self, status: Status | Iterable[Status] | None = None) -> list[Report]:
        wanted = {status} if isinstance(status, Status) else set(status or Status)
        with self._lock:
            return [copy.deepcopy(r) for r in self._reports.values() if r.status in wanted]

    def set_status(
        self,
        report_id: str,
        status: Status,
        *,
        reason: str | None = None,
        retryable: bool | None = None,
    ) -> Report:
        with self._lock:
            report = self._get(report_id)
            check_transition(report.status, status)
            report.status, report.reason, report.retryable = status, reason, retryable
            self.writes.append((report_id, status))
            return copy.deepcopy(report)

    def update_report_submission(self, report_id: str, **fields: Any) -> None:
        with self._lock:
            report = self._get(report_id)
            for key, value in fields.items():
                setattr(report, key, value)

    def update_attachment(self, report_id: str, attachment_id: str, **fields: Any) -> None:
        with self._lock:
            (att,) = [a for a in self._get(report_id).attachments if a.id == attachment_id]
            for key, value in fields.items():
                setattr(att, key, value)

    def delete_report(self, report_id: str) -> None:
        with self._lock:
            self._get(report_id)
            del self._reports[report_id]

    def get_connection(self) -> ConnectionSettings | None:
        return self.connection

    def get_file(self, file_id: str) -> FakeFile:
        return self._files[file_id]

    def open_file(self, file_id: str, *, check_sha256: bool = True) -> io.BytesIO:
        return io.BytesIO(self._files[file_id].data)


class FakeServer:
    """A Nextcloud in memory, with a gate that holds every PUT after its body was read.

    ``gate``: PUTs wait at it (open by default). ``honour_cancel``: whether a waiting PUT
    notices the pause token (a PUT does; the final MOVE of a chunked upload does not).
    ``failures``: errors the next PUTs raise, in order; ``fail_path``: errors the next PUTs
    to a path containing some text raise. ``down``: status.php fails.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.files: dict[str, bytes] = {}
        self.folders: set[str] = set()
        self.gate = threading.Event()
        self.gate.set()
        self.honour_cancel = True
        self.waiting = threading.Event()  # a PUT waits at the closed gate
        self.failures: list[BaseException] = []
        self.path_failures: list[tuple[str, BaseException]] = []
        self.puts: list[str] = []
        self.in_flight: dict[str, int] = {}  # report folder -> PUTs running now
        self.most_in_flight = 0  # per report folder, over the whole test
        self.down = False
        self.probes = 0

    def fail_path(self, part: str, *errors: BaseException) -> None:
        """The next PUTs to a path containing ``part`` raise ``errors``, one each."""
        with self.lock:
            self.path_failures.extend((part, error) for error in errors)

    def _failure(self, path: str) -> BaseException | None:
        for i, (part, error) in enumerate(self.path_failures):
            if part in path:
                del self.path_failures[i]
                return error
        return self.failures.pop(0) if self.failures else None

    def client(self, _settings: ConnectionSettings | None = None) -> FakeClient:
        return FakeClient(self)


class FakeClient:
    """A ProtocolClient over a FakeServer."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server

    def status(self) -> dict[str, Any]:
        with self.server.lock:
            self.server.probes += 1
            if self.server.down:
                from tellakit.errors import ConnectionLost

                raise ConnectionLost("GET /status.php: connection refused")
        return {"installed": True, "maintenance": False}

    def capabilities(self) -> Capabilities:
        return Capabilities()

    def mkcol(self, path: str) -> bool:
        with self.server.lock:
            if path in self.server.folders:
                return False
            self.server.folders.add(path)
            return True

    def ensure_folder(self, path: str) -> None:
        parts = path.split("/")
        with self.server.lock:
            self.server.folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))

    def put(
        self,
        path: str,
        stream: Any,
        size: int,
        *,
        on_progress: Callable[[int], None] | None = None,
        cancel: Any = None,
        mtime: float | None = None,
        checksum_sha256_hex: str | None = None,
    ) -> PutResult:
        server = self.server
        folder = path.rsplit("/", 1)[0]
        with server.lock:
            server.puts.append(path)
            failure = server._failure(path)
            if failure is not None:
                raise failure
            server.in_flight[folder] = server.in_flight.get(folder, 0) + 1
            server.most_in_flight = max(server.most_in_flight, server.in_flight[folder])
        try:
            data = stream.read(size)
            if on_progress is not None:
                on_progress(len(data))
            while not server.gate.is_set():
                server.waiting.set()
                if server.honour_cancel and cancel is not None and cancel.is_set():
                    raise Cancelled(bytes_sent=len(data))
                server.gate.wait(0.005)
            with server.lock:
                server.files[path] = data
        finally:
            with server.lock:
                server.in_flight[folder] -= 1
        sha = hashlib.sha256(data).hexdigest()
        return PutResult(201, etag="e", file_id="1", hashes={"sha256": sha})

    def _entry(self, path: str) -> DavEntry | None:
        if path in self.server.files:
            return DavEntry(path=path, href=path, is_dir=False, size=len(self.server.files[path]))
        if path in self.server.folders:
            return DavEntry(path=path, href=path, is_dir=True)
        return None

    def propfind(self, path: str, depth: int = 1) -> list[DavEntry]:
        with self.server.lock:
            entry = self._entry(path)
            if entry is None:
                from tellakit.errors import UnexpectedResponse

                raise UnexpectedResponse(f"PROPFIND {path}: 404", status=404)
            if depth == 0:
                return [entry]
            inside = [
                p for p in [*self.server.files, *self.server.folders] if p.startswith(path + "/")
            ]
            children = [self._entry(p) for p in inside if "/" not in p[len(path) + 1 :]]
            return [entry, *[c for c in children if c is not None]]

    def stat(self, path: str) -> DavEntry | None:
        with self.server.lock:
            return self._entry(path)

    def recalculated_digest(self, path: str) -> ServerDigest | None:
        with self.server.lock:
            data = self.server.files.get(path)
        if data is None:
            from tellakit.errors import UnexpectedResponse

            raise UnexpectedResponse(f"PATCH {path}: 404", status=404)
        return ServerDigest(DigestKind.RECALCULATED, hashlib.sha256(data).hexdigest())

    def download_sha256(
        self, path: str, *, cancel: Any = None, on_progress: Callable[[int], None] | None = None
    ) -> ServerDigest:
        with self.server.lock:
            data = self.server.files[path]
        return ServerDigest(DigestKind.DOWNLOAD, hashlib.sha256(data).hexdigest(), len(data))

    def close(self) -> None:
        pass


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeTimer:
    def __init__(self, delay: float, action: Callable[[], None], due: float) -> None:
        self.delay = delay
        self.action = action
        self.due = due
        self.cancelled = False
        self.fired = False

    def cancel(self) -> None:
        self.cancelled = True

    def fire(self) -> None:
        if not self.cancelled and not self.fired:
            self.fired = True
            self.action()


class FakeTimers:
    """A TimerFactory on a FakeClock that starts nothing: tests move the clock, which fires
    the timers that come due, in order, on the test's thread."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.made: list[FakeTimer] = []

    def __call__(self, delay: float, action: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer(delay, action, self.clock.now + delay)
        self.made.append(timer)
        return timer

    @property
    def pending(self) -> list[FakeTimer]:
        return [t for t in self.made if not t.cancelled and not t.fired]

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` on, firing each timer when its time comes."""
        end = self.clock.now + seconds
        while due := [t for t in self.pending if t.due <= end]:
            timer = min(due, key=lambda t: t.due)
            self.clock.now = max(self.clock.now, timer.due)
            timer.fire()
        self.clock.now = end

    def next(self) -> FakeTimer:
        """Move the clock to the earliest pending timer and fire it; that timer."""
        timer = min(self.pending, key=lambda t: t.due)
        self.advance(max(0.0, timer.due - self.clock.now))
        return timer

    def fire_pending(self) -> None:
        for timer in sorted(self.pending, key=lambda t: t.due):
            self.clock.now = max(self.clock.now, timer.due)
            timer.fire()
