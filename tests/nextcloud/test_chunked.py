"""Chunked upload against the development server: v2, v1 fallback, resume, expiry, cancel."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tellakit.errors import UploadExpired
from tellakit.nextcloud import (
    Cancelled,
    ChunkedUpload,
    Credentials,
    NextcloudClient,
    new_transfer_id,
)
from tellakit.nextcloud.chunked import chunk_name

pytestmark = pytest.mark.timeout(90)

CHUNK = 5 * 1024 * 1024  # v2's minimum for every chunk but the last


def _send(upload: ChunkedUpload, data: bytes, numbers: range | list[int]) -> None:
    for n in numbers:
        offset, size = upload.chunk_range(n)
        upload.upload_chunk(n, io.BytesIO(data[offset : offset + size]), size)


def test_chunk_names_are_zero_padded_and_bounded() -> None:
    assert chunk_name(1) == "00001" and chunk_name(10000) == "10000"
    with pytest.raises(ValueError):
        chunk_name(0)
    with pytest.raises(ValueError):
        chunk_name(10001)


def test_v2_upload_assembles_the_file(devserver: Any, client: NextcloudClient) -> None:
    client.mkcol("Tella")
    data = os.urandom(2 * CHUNK + 123)
    digest = hashlib.sha256(data).hexdigest()
    upload = ChunkedUpload(
        client,
        "Tella/big.bin",
        len(data),
        new_transfer_id(),
        chunk_size=CHUNK,
        mtime=1.7e9,
        checksum_sha256_hex=digest,
    )
    assert upload.start() is True
    assert upload.protocol == 2
    assert upload.chunk_count == 3
    _send(upload, data, range(1, 4))
    assert upload.received_chunks() == [("00001", CHUNK), ("00002", CHUNK), ("00003", 123)]
    result = upload.finish()
    assert result.status in (201, 204)
    assert result.etag and result.file_id
    assert (devserver.files_root("alice") / "Tella" / "big.bin").read_bytes() == data
    entry = client.stat("Tella/big.bin")
    assert entry is not None and entry.size == len(data)
    assert client.file_hashes("Tella/big.bin")["sha256"] == digest
    # the upload folder is gone after success
    with pytest.raises(UploadExpired):
        upload.received_chunks()
    mkcols = [r for r in devserver.log if r.method == "MKCOL" and "/uploads/" in r.path]
    assert len(mkcols) == 1


def test_v1_fallback_when_mkcol_with_destination_is_refused(
    devserver: Any, client: NextcloudClient
) -> None:
    data = os.urandom(2 * CHUNK + 5)
    tid = new_transfer_id()
    devserver.faults.respond(400, method="MKCOL", path=f".*/uploads/.*{tid}.*", times=1)
    upload = ChunkedUpload(client, "v1.bin", len(data), tid, chunk_size=CHUNK)
    assert upload.start() is True
    assert upload.protocol == 1
    _send(upload, data, range(1, 4))
    assert [n for n, _ in upload.received_chunks()] == ["00001", "00002", "00003"]
    upload.finish()
    assert (devserver.files_root("alice") / "v1.bin").read_bytes() == data


def test_resume_in_a_new_object_lists_received_chunks(
    devserver: Any, client: NextcloudClient
) -> None:
    data = os.urandom(3 * CHUNK + 1)
    tid = new_transfer_id()
    first = ChunkedUpload(client, "resumed.bin", len(data), tid, chunk_size=CHUNK)
    first.start()
    _send(first, data, [1, 2])
    # "another process": only the transfer id survived
    with NextcloudClient(Credentials(devserver.url, "alice", "secret")) as other:
        again = ChunkedUpload(other, "resumed.bin", len(data), tid, chunk_size=CHUNK)
        assert again.start() is False  # 405: folder exists, nothing lost
        have = again.received_chunks()
        assert have == [("00001", CHUNK), ("00002", CHUNK)]
        devserver.log.clear()
        _send(again, data, [3, 4])  # chunk 4 holds the last byte
        again.finish()
        chunk_puts = [r for r in devserver.log if r.method == "PUT"]
        assert len(chunk_puts) == 2  # nothing re-sent
    assert (devserver.files_root("alice") / "resumed.bin").read_bytes() == data


def test_expired_upload_raises_upload_expired(tmp_path: Path) -> None:
    from tellakit.devserver import DevServer

    with (
        DevServer(tmp_path / "srv", chunk_expiry_seconds=0.3) as srv,
        NextcloudClient(Credentials(srv.url, "alice", "secret")) as client,
    ):
        data = os.urandom(CHUNK + 1)
        upload = ChunkedUpload(client, "exp.bin", len(data), new_transfer_id(), chunk_size=CHUNK)
        upload.start()
        _send(upload, data, [1])
        time.sleep(1.0)
        with pytest.raises(UploadExpired):
            upload.received_chunks()
        with pytest.raises(UploadExpired):
            _send(upload, data, [2])
        with pytest.raises(UploadExpired):
            upload.finish()
        assert client.stat("exp.bin") is None


def test_abort_deletes_the_upload_folder(client: NextcloudClient) -> None:
    upload = ChunkedUpload(client, "ab.bin", 10, new_transfer_id(), chunk_size=CHUNK)
    upload.start()
    upload.upload_chunk(1, io.BytesIO(b"0123456789"), 10)
    upload.abort()
    with pytest.raises(UploadExpired):
        upload.received_chunks()
    upload.abort()  # already gone: fine


def test_cancel_mid_chunk(devserver: Any, client: NextcloudClient) -> None:
    size = CHUNK
    upload = ChunkedUpload(client, "c.bin", size, new_transfer_id(), chunk_size=size)
    upload.start()
    devserver.faults.bandwidth(512 * 1024)  # the chunk would take ~10 s
    cancel = threading.Event()
    mib = 1024 * 1024

    def on_progress(n: int) -> None:
        if n >= mib:
            cancel.set()

    with pytest.raises(Cancelled) as info:
        upload.upload_chunk(1, io.BytesIO(bytes(size)), size, on_progress, cancel)
    devserver.faults.clear()
    assert mib <= info.value.bytes_sent < size
    # the partial chunk is not kept as a complete one
    assert all(s == size for _, s in upload.received_chunks())


def test_a_cancelled_chunk_does_not_leave_it_locked_on_the_server(
    devserver: Any, client: NextcloudClient
) -> None:
    size = CHUNK
    upload = ChunkedUpload(client, "l.bin", size, new_transfer_id(), chunk_size=size)
    upload.start()
    devserver.faults.bandwidth(64 * 1024)  # a megabyte queues up in the kernel behind the body
    cancel = threading.Event()
    with pytest.raises(Cancelled):
        upload.upload_chunk(
            1, io.BytesIO(bytes(size)), size, lambda n: n >= 1024 * 1024 and cancel.set(), cancel
        )
    # The client reset the connection: the queued bytes were dropped, the server's read of
    # the body failed at once and the chunk's lock went with it. With a graceful close the
    # queue would trickle out at 64 KiB/s first, the chunk answering 423 all along.
    deadline = time.monotonic() + 4
    while not devserver.log.filter("PUT", "/00001"):
        assert time.monotonic() < deadline, "the server is still receiving the cancelled chunk"
        time.sleep(0.05)
    devserver.faults.clear()
    upload.upload_chunk(1, io.BytesIO(bytes(size)), size)  # no ResourceLocked
    assert upload.received_chunks() == [("00001", size)]


def test_finish_after_lost_answer_is_recognised(devserver: Any, client: NextcloudClient) -> None:
    data = os.urandom(CHUNK + 9)
    upload = ChunkedUpload(client, "lost.bin", len(data), new_transfer_id(), chunk_size=CHUNK)
    upload.start()
    _send(upload, data, [1, 2])
    upload.finish()
    # the same MOVE again (as after a lost answer): the file is there with the right size
    result = upload.finish()
    assert result.status == 0
    assert (
        hashlib.sha256((devserver.files_root("alice") / "lost.bin").read_bytes()).digest()
        == hashlib.sha256(data).digest()
    )


def test_cancel_after_the_chunk_was_handed_over_leaves_no_chunk(
    devserver: Any, client: NextcloudClient
) -> None:
    # Larger than the loopback buffers (see test_webdav's QUEUED_BODY): the tail of the
    # chunk is still on our side when its last byte has been handed over.
    size = 12 * 1024 * 1024
    upload = ChunkedUpload(client, "q.bin", size, new_transfer_id(), chunk_size=size)
    upload.start()
    devserver.faults.bandwidth(1024 * 1024)
    cancel = threading.Event()

    def on_progress(n: int) -> None:
        if n == size:  # the whole chunk is with the kernel; the client waits for the answer
            cancel.set()

    with pytest.raises(Cancelled) as info:
        upload.upload_chunk(1, io.BytesIO(bytes(size)), size, on_progress, cancel)
    assert cancel.is_set() and info.value.bytes_sent == size
    deadline = time.monotonic() + 10
    while not devserver.log.filter("PUT", "/00001"):
        assert time.monotonic() < deadline, "the server is still receiving the cancelled chunk"
        time.sleep(0.05)
    devserver.faults.clear()
    records = devserver.log.filter("PUT", "/00001")
    assert [r.status for r in records if r.status in (200, 201, 204)] == []
    assert upload.received_chunks() == []  # no chunk 00001, whole or partial
