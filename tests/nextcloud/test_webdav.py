"""WebDAV calls against the development server: folders, PUT with hashes, listing, moves."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from typing import Any

import pytest

from tellakit.errors import NameRejected, UnexpectedResponse, VaultCorrupted
from tellakit.nextcloud import Cancelled, Credentials, NextcloudClient, webdav
from tellakit.nextcloud.session import NextcloudSession

from .servers import capture_server

pytestmark = pytest.mark.timeout(60)


def test_mkcol_reports_created_then_existing(devserver: Any, client: NextcloudClient) -> None:
    assert client.mkcol("Tella") is True
    assert client.mkcol("Tella") is False  # 405: the atomic "name taken" test
    assert (devserver.files_root("alice") / "Tella").is_dir()


def test_mkcol_without_parent_is_unexpected_409(client: NextcloudClient) -> None:
    with pytest.raises(UnexpectedResponse) as info:
        client.mkcol("no/such/parent")
    assert info.value.status == 409
    assert info.value.method == "MKCOL"


def test_ensure_folder_creates_every_missing_level(devserver: Any, client: NextcloudClient) -> None:
    client.mkcol("a")
    client.ensure_folder("a/b/c d")
    client.ensure_folder("a/b/c d")  # existing levels are fine
    assert (devserver.files_root("alice") / "a" / "b" / "c d").is_dir()


def test_put_streams_bytes_and_returns_server_hashes(
    devserver: Any, client: NextcloudClient
) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    progress: list[int] = []
    result = client.put(
        "r.bin",
        io.BytesIO(data),
        len(data),
        on_progress=progress.append,
        mtime=1_700_000_000,
        checksum_sha256_hex=hashlib.sha256(data).hexdigest(),
    )
    assert result.status == 201 and result.created
    assert result.hashes["sha256"] == hashlib.sha256(data).hexdigest()
    assert result.etag and result.file_id
    assert result.mtime_accepted
    assert (devserver.files_root("alice") / "r.bin").read_bytes() == data
    assert progress[-1] == len(data)
    assert max(b - a for a, b in zip([0, *progress[:-1]], progress, strict=True)) <= 256 * 1024
    # overwrite answers 204
    again = client.put("r.bin", io.BytesIO(b"new"), 3)
    assert again.status == 204 and not again.created


def test_put_zero_bytes_and_unicode_name(devserver: Any, client: NextcloudClient) -> None:
    client.mkcol("Título (2)")
    result = client.put("Título (2)/ünï 😀 #1?.txt", io.BytesIO(b""), 0)
    assert result.hashes["sha256"] == hashlib.sha256(b"").hexdigest()
    assert (devserver.files_root("alice") / "Título (2)" / "ünï 😀 #1?.txt").read_bytes() == b""


def test_propfind_lists_sizes_etags_and_checksums(client: NextcloudClient) -> None:
    client.mkcol("d")
    client.put("d/one.txt", io.BytesIO(b"1"), 1, checksum_sha256_hex="ab" * 32)
    client.put("d/two words.txt", io.BytesIO(b"22"), 2)
    entries = client.propfind("d", depth=1)
    by_path = {e.path: e for e in entries}
    assert by_path["d"].is_dir
    assert by_path["d/one.txt"].size == 1 and not by_path["d/one.txt"].is_dir
    assert by_path["d/two words.txt"].size == 2
    assert by_path["d/one.txt"].etag
    assert by_path["d/one.txt"].checksums.get("SHA256") == "ab" * 32
    assert [e.name for e in client.listdir("d")] == sorted(["one.txt", "two words.txt"]) or {
        e.name for e in client.listdir("d")
    } == {"one.txt", "two words.txt"}
    only = client.propfind("d/one.txt", depth=0)
    assert [e.path for e in only] == ["d/one.txt"]


def test_percent_signs_in_names_survive_a_listing(devserver: Any) -> None:
    devserver.add_user("ü%41 x", "pw-2")
    with NextcloudClient(Credentials(devserver.url, "ü%41 x", "pw-2")) as odd:
        odd.mkcol("100% sure")
        odd.put("100% sure/a%41b.txt", io.BytesIO(b"p"), 1)
        names = [e.path for e in odd.propfind("100% sure", depth=1)]
    assert sorted(names) == ["100% sure", "100% sure/a%41b.txt"]


def test_stat_and_exists_for_missing_paths(client: NextcloudClient) -> None:
    assert client.stat("nope.txt") is None
    assert client.exists("nope.txt") is False
    with pytest.raises(UnexpectedResponse) as info:
        client.propfind("nope.txt")
    assert info.value.status == 404


def test_move_get_delete(devserver: Any, client: NextcloudClient) -> None:
    client.put("a.txt", io.BytesIO(b"hello"), 5)
    client.move("a.txt", "b.txt")
    assert not client.exists("a.txt")
    with client.get("b.txt") as stream:
        assert stream.size == 5
        assert stream.read(2) == b"he"
        assert stream.read() == b"llo"
    downloaded = client.download_sha256("b.txt")
    assert (downloaded.sha256, downloaded.size) == (hashlib.sha256(b"hello").hexdigest(), 5)
    assert client.delete("b.txt") is True
    assert client.delete("b.txt") is False


def test_file_hashes_holds_the_servers_hash_never_the_stored_claim(
    client: NextcloudClient,
) -> None:
    claim = hashlib.sha256(b"what we said we sent").hexdigest()
    client.put("h.txt", io.BytesIO(b"hash me"), 7, checksum_sha256_hex=claim)
    assert client.stat("h.txt").checksums == {"SHA256": claim}  # stored verbatim: a claim
    assert client.file_hashes("h.txt") == {"sha256": hashlib.sha256(b"hash me").hexdigest()}


def test_refused_name_is_name_rejected_with_server_reason(client: NextcloudClient) -> None:
    with pytest.raises(NameRejected) as info:
        client.put("notes.part", io.BytesIO(b"x"), 1)
    assert info.value.status == 400
    assert "part" in info.value.reason  # type: ignore[attr-defined]
    with pytest.raises(NameRejected):
        client.mkcol(".htaccess")


def test_cancel_mid_body_stops_the_upload(devserver: Any, client: NextcloudClient) -> None:
    devserver.faults.bandwidth(512 * 1024)  # the 8 MiB body would take ~16 s
    size = 8 * 1024 * 1024
    cancel = threading.Event()
    sent: list[int] = []

    def on_progress(n: int) -> None:
        sent.append(n)
        if n >= 1024 * 1024:
            cancel.set()

    with pytest.raises(Cancelled) as info:
        client.put(
            "slow.bin", io.BytesIO(bytes(size)), size, on_progress=on_progress, cancel=cancel
        )
    assert 1024 * 1024 <= info.value.bytes_sent < size
    # nothing half-written shows up under the final name
    devserver.faults.clear()
    assert client.stat("slow.bin") is None
    records: list[Any] = []
    for _ in range(100):  # the server logs the cut request once its read fails
        records = [r for r in devserver.log if r.method == "PUT" and r.path.endswith("slow.bin")]
        if records:
            break
        time.sleep(0.05)
    assert records, list(devserver.log)
    assert records[-1].bytes_in < size


@pytest.mark.parametrize("size", [0, 1, 300_000])
def test_put_sends_content_length_never_chunked_encoding(size: int) -> None:
    with capture_server() as (url, seen):
        session = NextcloudSession("alice", "pw")
        webdav.put(session, f"{url}/f", io.BytesIO(bytes(size)), size)
        session.close()
    headers = seen[-1]
    assert headers["content-length"] == str(size)
    assert "transfer-encoding" not in headers
    assert headers["user-agent"].startswith("tellakit/")


class _FailingReader:
    """A source that fails after ``good`` bytes, like a vault reader meeting a tampered chunk."""

    def __init__(self, good: int, error: BaseException) -> None:
        self.left = good
        self.error = error

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            raise self.error
        n = min(n, self.left, 65536)
        self.left -= n
        return bytes(n)


@pytest.mark.parametrize("error", [VaultCorrupted("chunk 17 failed"), OSError(5, "EIO")])
def test_source_error_mid_body_surfaces_and_stores_nothing(
    client: NextcloudClient, error: BaseException
) -> None:
    size = 4 * 1024 * 1024
    with pytest.raises(type(error)) as info:
        client.put("tampered.bin", _FailingReader(1024 * 1024, error), size)
    assert info.value is error
    assert client.stat("tampered.bin") is None


#: Larger than what loopback buffers hold (the server's receive buffer grows to a few MiB
#: behind the dev server's throttle, ours as well): the last byte is handed to the kernel
#: while the server still has megabytes to read, and the tail is still on our side, where a
#: reset drops it. (What the server's kernel already holds can never be called back.)
QUEUED_BODY = 12 * 1024 * 1024


def _records(devserver: Any, method: str, path: str) -> list[Any]:
    """The server's log records of ``path`` once it logged one (the cut request ended)."""
    for _ in range(200):
        records = devserver.log.filter(method, path)
        if records:
            return records
        time.sleep(0.05)
    raise AssertionError(f"the server never finished {method} {path}: {list(devserver.log)}")


def test_cancel_after_the_whole_body_was_handed_over_stops_the_upload(
    devserver: Any, client: NextcloudClient
) -> None:
    devserver.faults.bandwidth(1024 * 1024)  # the server reads the body in ~12 s
    size = QUEUED_BODY
    cancel = threading.Event()

    def on_progress(n: int) -> None:
        if n == size:  # all of it is with the kernel; the client now waits for the answer
            cancel.set()

    with pytest.raises(Cancelled) as info:
        client.put(
            "queued.bin", io.BytesIO(bytes(size)), size, on_progress=on_progress, cancel=cancel
        )
    assert cancel.is_set() and info.value.bytes_sent == size
    records = _records(devserver, "PUT", "queued.bin")
    devserver.faults.clear()
    assert [r.status for r in records if r.status in (200, 201, 204)] == []
    assert records[-1].bytes_in < size  # the server's read of the body ended short
    assert client.stat("queued.bin") is None
