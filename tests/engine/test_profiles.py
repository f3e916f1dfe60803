"""The engine end to end against each kind of real server the development server stands for.

For every profile (Nextcloud on local disk, on an object store, Nextcloud 18, behind a TLS
proxy, on MySQL without utf8mb4): a byte flipped on the way in a single PUT, in a middle
chunk or in the final chunk never ends SUBMITTED with other bytes on the server; after the
automatic re-send the report is submitted and byte-identical, or it stops with "Verification
failed". Each file records how it was verified, and no code path may even look at the
checksums the server stores as a client sent them (a tripwire in the XML parser fails the
test if one does).

One server, vault and Submitter serve each profile (each case is its own report); the cases
are the representative ones, so the whole matrix stays within a minute or so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from engine_helpers import PASSPHRASE, SMALL, MiB, file_sha256, random_bytes, wait_for

from tellakit.engine import Submitter, client_for, connect
from tellakit.engine.events import FileEvent
from tellakit.nextcloud import xml as dav_xml
from tellakit.reports import FileState, Status, Verification
from tellakit.vault import create_vault

pytestmark = pytest.mark.timeout(180)
ROOT = "P"
SMALL_SIZE = 300 * 1024  # one PUT
BIG_SIZE = 15 * MiB + 512 * 1024  # chunked: 5 + 5 + 5.5 MiB, so chunk 2 is a middle one
PROFILES = ["nextcloud", "nextcloud-object-store", "nextcloud-old", "behind-proxy", "mysql-utf8"]
V = Verification
#: profile -> (how a single PUT is verified, how a chunked upload is verified)
LEVELS = {
    "nextcloud": (V.SERVER_SHA256, V.SERVER_SHA256),
    "nextcloud-object-store": (V.SERVER_SHA256, V.RECALCULATED),
    "nextcloud-old": (V.DOWNLOAD, V.DOWNLOAD),
    "behind-proxy": (V.SERVER_SHA256, V.SERVER_SHA256),
    "mysql-utf8": (V.SERVER_SHA256, V.SERVER_SHA256),
}
# Where to flip a byte: (file, method, path regex, offset in that request's body).
FLIPS = {
    "single PUT": ("small.bin", "PUT", r"/files/alice/P/[^/]+/small\.bin$", 1234),
    "middle chunk": ("big.bin", "PUT", r"/uploads/alice/[^/]+/00002$", 4321),
    "final chunk": ("big.bin", "PUT", r"/uploads/alice/[^/]+/00003$", 5 * MiB + 17),
}


class Tripwire(dict):  # type: ignore[type-arg]
    """``DavEntry.checksums`` that records every look at the stored (client-sent) checksums."""

    reads: list[str] = []  # noqa: RUF012 - shared on purpose: every instance reports here

    def _read(self, how: str) -> None:
        Tripwire.reads.append(how)

    def __getitem__(self, key: Any) -> Any:
        self._read("[]")
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._read("get")
        return super().get(key, default)

    def __contains__(self, key: Any) -> bool:
        self._read("in")
        return super().__contains__(key)

    def __iter__(self) -> Any:
        self._read("iter")
        return super().__iter__()

    def __len__(self) -> int:
        self._read("len")
        return super().__len__()

    def items(self) -> Any:
        self._read("items")
        return super().items()

    def values(self) -> Any:
        self._read("values")
        return super().values()

    def keys(self) -> Any:
        self._read("keys")
        return super().keys()


@dataclass
class Env:
    profile: str
    server: Any
    vault: Any
    submitter: Submitter
    files: dict[str, str]  # name -> vault file id
    shas: dict[str, str]
    lose_move_answer: list[bool] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return Path(self.server.files_root("alice"))

    def submit(self, title: str, names: list[str], *, timeout: float = 90) -> Any:
        report = self.vault.create_report(title, f"case {title}", [self.files[n] for n in names])
        self.server.log.clear()
        self.submitter.submit(report.id)
        assert self.submitter.wait(report.id, timeout=timeout)
        return self.vault.get_report(report.id)

    def resume(self, report: Any) -> Any:
        self.server.faults.clear()
        self.server.log.clear()
        self.submitter.resume(report.id)
        assert self.submitter.wait(report.id, timeout=90)
        return self.vault.get_report(report.id)

    def identical(self, report: Any) -> bool:
        """True when every file of ``report`` on the server has the vault's bytes."""
        return all(
            file_sha256(self.root / report.remote_folder / a.remote_name) == a.sha256
            for a in report.attachments
        )


@pytest.fixture(scope="module", params=PROFILES)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    pytest.importorskip("wsgidav", reason="tellakit[devserver] extra not installed")
    from tellakit.devserver import DevServer

    profile = request.param
    base = tmp_path_factory.mktemp(profile)
    server = DevServer(base / "server", users={"alice": "secret"}, profile=profile).start()
    vault = create_vault(base / "vault", PASSPHRASE, work_factor=10)
    connect(vault, server.url, "alice", "secret", ROOT)
    data = {"small.bin": random_bytes(SMALL_SIZE, 31), "big.bin": random_bytes(BIG_SIZE, 32)}
    imported = {name: vault.import_bytes(content, name) for name, content in data.items()}
    lose: list[bool] = []

    def factory(settings: Any) -> Any:
        """The production client; when asked to, the first MOVE's answer is lost."""
        client = client_for(settings)
        original = client.session.request

        def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            response = original(method, url, *args, **kwargs)
            if method == "MOVE" and lose:
                lose.pop()
                raise requests.ConnectionError("the answer of the MOVE was lost")
            return response

        client.session.request = request  # type: ignore[method-assign]
        return client

    submitter = Submitter(vault, tuning=SMALL, client_factory=factory)
    Tripwire.reads.clear()
    with pytest.MonkeyPatch.context() as mp:
        original_parse = dav_xml.parse_checksums
        mp.setattr(dav_xml, "parse_checksums", lambda values: Tripwire(original_parse(values)))
        try:
            yield Env(
                profile,
                server,
                vault,
                submitter,
                {n: f.id for n, f in imported.items()},
                {n: f.sha256 for n, f in imported.items()},
                lose,
            )
        finally:
            submitter.close()
            vault.close()
            server.stop()
    assert Tripwire.reads == [], "a code path read the checksums a client sent"


def _level(env: Env, name: str) -> Verification:
    single, chunked = LEVELS[env.profile]
    return single if name == "small.bin" else chunked


def test_every_file_records_how_it_was_verified(env: Env) -> None:
    done = env.submit("clean", ["small.bin", "big.bin"])
    assert done.status is Status.SUBMITTED, done.reason
    assert env.identical(done)
    for att in done.attachments:
        assert att.state is FileState.VERIFIED
        assert att.verification is _level(env, att.name)
        assert att.checksum == f"SHA256:{att.sha256}" and att.resends == 0
    manifest = json.loads((env.root / done.remote_folder / "manifest.json").read_bytes())
    assert {f["name"]: f["verification"] for f in manifest["files"]} == {
        a.remote_name: _level(env, a.name).value for a in done.attachments
    }
    downloads = [r for r in env.server.log.filter("GET", "/files/")]
    assert bool(downloads) is (env.profile == "nextcloud-old"), downloads


@pytest.mark.parametrize("where", list(FLIPS))
def test_a_flipped_byte_is_caught_and_the_file_sent_again(env: Env, where: str) -> None:
    name, method, path, offset = FLIPS[where]
    env.server.faults.flip_byte(offset, method=method, path=path)
    done = env.submit(f"flip {where}", [name])
    flipped = [r for r in env.server.log.snapshot() if r.method == method]
    assert flipped, "the request to corrupt was never sent"
    assert done.status is Status.SUBMITTED, done.reason
    assert env.identical(done), "submitted with other bytes on the server"
    (att,) = done.attachments
    assert att.resends == 1, "the corruption went unnoticed"
    assert att.verification is _level(env, name) and att.state is FileState.VERIFIED


@pytest.mark.parametrize("where", ["single PUT", "final chunk"])
def test_a_file_that_fails_twice_stops_the_report_with_the_reason(env: Env, where: str) -> None:
    name, method, path, offset = FLIPS[where]
    env.server.faults.flip_byte(offset, method=method, path=path, times=2)
    report = env.submit(f"flip twice {where}", [name])
    assert report.status is Status.INTERRUPTED and report.retryable is False
    assert report.reason.startswith("Verification failed: "), report.reason
    assert name in report.reason
    (att,) = report.attachments
    assert att.state is FileState.FAILED and att.verification is None
    assert not env.identical(report)  # the server does hold other bytes: never "submitted"
    done = env.resume(report)  # a resume sends it again
    assert done.status is Status.SUBMITTED and env.identical(done)


def test_a_lost_move_answer_is_recognised_by_the_servers_digest(env: Env) -> None:
    env.lose_move_answer.append(True)
    report = env.submit("lost MOVE answer", ["big.bin"])
    assert report.status is Status.INTERRUPTED and report.retryable, report.reason
    done = env.resume(report)
    assert done.status is Status.SUBMITTED and env.identical(done)
    again = [r for r in env.server.log.snapshot() if r.method in ("PUT", "MOVE")]
    assert [r.path for r in again if "big.bin" in r.path or "/uploads/" in r.path] == []
    (att,) = done.attachments
    # No upload answer to go by: the server recalculated it, or it was downloaded back.
    expected = V.DOWNLOAD if env.profile == "nextcloud-old" else V.RECALCULATED
    assert att.verification is expected


def test_a_lost_move_answer_over_a_corrupted_file_is_not_adopted(env: Env) -> None:
    name, method, path, offset = FLIPS["middle chunk"]
    env.server.faults.flip_byte(offset, method=method, path=path)
    env.lose_move_answer.append(True)
    report = env.submit("lost MOVE answer, bad bytes", [name])
    assert report.status is Status.INTERRUPTED and report.retryable, report.reason
    done = env.resume(report)
    assert done.status is Status.SUBMITTED, done.reason
    assert env.identical(done)
    chunks = [r for r in env.server.log.filter("PUT", "/uploads/") if r.status in (201, 204)]
    assert len(chunks) == 3, "the corrupted copy must be replaced by a fresh upload"


def test_emoji_title_and_names(env: Env) -> None:
    ids = [env.vault.import_bytes(b"emoji " + bytes([i]), f"photo 🌋{i}.jpg").id for i in (1, 2)]
    report = env.vault.create_report("Protest 🌊 north", "waves", ids)
    env.submitter.submit(report.id)
    assert env.submitter.wait(report.id, timeout=60)
    done = env.vault.get_report(report.id)
    assert done.status is Status.SUBMITTED, done.reason
    folder = done.remote_folder.rsplit("/", 1)[-1]
    names = sorted(a.remote_name for a in done.attachments)
    if env.profile == "mysql-utf8":
        # The fallback names are what the index records (and the manifest lists).
        assert folder == "Protest north"
        assert names == ["photo 1.jpg", "photo 2.jpg"]
    else:
        assert folder == "Protest 🌊 north"
        assert names == ["photo 🌋1.jpg", "photo 🌋2.jpg"]
    for att in done.attachments:
        assert (env.root / done.remote_folder / att.remote_name).is_file()
    manifest = json.loads((env.root / done.remote_folder / "manifest.json").read_bytes())
    assert sorted(f["original_name"] for f in manifest["files"]) == [
        "photo 🌋1.jpg",
        "photo 🌋2.jpg",
    ]
    assert manifest["title"] == "Protest 🌊 north"


# Only these servers send a request of their own to verify (the others answer every upload
# with its SHA-256), and only a server without any digest is verified by downloading.
@pytest.mark.parametrize("env", ["nextcloud-object-store", "nextcloud-old"], indirect=True)
def test_a_failing_verification_request_is_retried_like_any_other(env: Env) -> None:
    method = "PATCH" if env.profile == "nextcloud-object-store" else "GET"
    env.server.faults.respond(503, method=method, path=r"/big\.bin$")
    report = env.submit("verification request fails", ["big.bin"])
    assert report.status is Status.INTERRUPTED and report.retryable, report.reason
    assert "503" in report.reason
    assert report.attachments[0].state is FileState.UPLOADED  # kept: not sent again
    done = env.resume(report)
    assert done.status is Status.SUBMITTED and env.identical(done)
    assert not [r for r in env.server.log.snapshot() if "/uploads/" in r.path]


@pytest.mark.parametrize("env", ["nextcloud-old"], indirect=True)
def test_a_verifying_download_shows_progress_and_stops_on_pause(env: Env) -> None:
    seen: list[FileEvent] = []
    env.server.faults.bandwidth(8 * MiB)  # so the download takes a while
    report = env.vault.create_report("pause while verifying", "", [env.files["big.bin"]])

    def on_event(event: Any) -> None:
        if isinstance(event, FileEvent) and event.verify_bytes is not None:
            seen.append(event)
            if len(seen) == 2:
                env.submitter.pause(report.id)

    unsubscribe = env.submitter.subscribe(on_event)
    try:
        env.submitter.submit(report.id)
        assert env.submitter.wait(report.id, timeout=90)
    finally:
        unsubscribe()
        env.server.faults.bandwidth(None)
    paused = env.vault.get_report(report.id)
    assert paused.status is Status.PAUSED, paused.reason
    assert paused.attachments[0].state is FileState.UPLOADED  # uploaded, not yet verified
    assert 0 < seen[-1].verify_bytes < BIG_SIZE and seen[-1].total == BIG_SIZE
    # The server logs the abandoned download once it notices the client left (about a second
    # of buffered sending later): wait for that, so the log the resume clears holds only what
    # the resume asks for.
    path, log = paused.attachments[0].remote_path, env.server.log
    assert path
    wait_for(lambda: any(r.method == "GET" and r.path.endswith(path) for r in log.snapshot()), 30)
    resumed = time.time()
    done = env.resume(paused)
    assert done.status is Status.SUBMITTED and env.identical(done)
    assert done.attachments[0].verification is V.DOWNLOAD
    # The requests of the resumed run: the paused run's cut GET can end (and be logged) after
    # the resume cleared the log, so requests are told apart by when they arrived.
    entries = log.snapshot()
    again = [(r.method, r.path) for r in entries if "big.bin" in r.path and r.time >= resumed]
    assert [m for m, _ in again] == ["GET"], again  # verified by downloading; not sent again


@pytest.mark.parametrize("env", ["nextcloud-old"], indirect=True)
def test_size_only_is_recorded_as_such_never_as_verified(env: Env, tmp_path: Path) -> None:
    """Where the server computes no digest and the connection asks for no download, a
    corrupted file can only be checked by its size; the checksum tellakit sent (which the
    server stored, so it "matches") must not turn that into "verified"."""
    vault = create_vault(tmp_path / "size-only", PASSPHRASE, work_factor=10)
    try:
        connect(vault, env.server.url, "alice", "secret", ROOT, without_digest="size_only")
        report = vault.create_report(
            "size only", "", [vault.import_bytes(random_bytes(SMALL_SIZE, 33), "small.bin").id]
        )
        name, method, path, offset = FLIPS["single PUT"]
        env.server.faults.flip_byte(offset, method=method, path=path)
        env.server.log.clear()
        with Submitter(vault, tuning=SMALL) as submitter:
            submitter.submit(report.id)
            assert submitter.wait(report.id, timeout=60)
        done = vault.get_report(report.id)
    finally:
        vault.close()
    assert done.status is Status.SUBMITTED, done.reason
    (att,) = done.attachments
    assert att.state is FileState.SIZE_CHECKED and att.verification is V.SIZE_ONLY
    assert att.checksum is None and att.resends == 0
    assert not env.identical(done)  # what "content not verified" means
    assert not [r for r in env.server.log.filter("GET", "/files/")], "size only: no download"
    assert Tripwire.reads == [], "a code path read the checksums a client sent"
    from tellakit.nextcloud import NextcloudClient
    from tellakit.nextcloud.models import Credentials

    with NextcloudClient(Credentials(env.server.url, "alice", "secret")) as client:
        entry = client.stat(f"{done.remote_folder}/{name}")
        assert entry is not None
        stored = dict.copy(entry.checksums)  # the claim, looked at by this test only
    Tripwire.reads.clear()  # this test's own look, above
    assert stored == {"SHA256": att.sha256}, "the server does hold the checksum tellakit sent"
