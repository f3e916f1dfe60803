"""tellakit's bulk upload client against the development server's endpoint."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from typing import Any

import pytest

from tellakit.errors import (
    AuthenticationFailed,
    BulkUploadUnsupported,
    ConnectionLost,
    QuotaExceeded,
    ServerUnavailable,
)
from tellakit.nextcloud import Cancelled, Credentials, NextcloudClient
from tellakit.nextcloud.bulk import BulkItem, BulkStatus, MultipartBody, _prepared
from tellakit.nextcloud.streaming import MAX_SLICE, ShortRead


def item(path: str, data: bytes, **kw: Any) -> BulkItem:
    return BulkItem(path, io.BytesIO(data), len(data), **kw)


def send(client: NextcloudClient, items: list[BulkItem], **kw: Any):
    return client.bulk_upload(items, **kw)


def on_disk(devserver: Any, path: str):
    return devserver.files_root("alice") / path


def test_capability_is_parsed(devserver: Any, client: NextcloudClient) -> None:
    from tellakit.devserver import bulk

    assert client.capabilities().bulkupload is True
    bulk.set_enabled(devserver.ctx, False)
    assert client.capabilities().bulkupload is False


def test_files_are_stored_with_etag_and_file_id(devserver: Any, client: NextcloudClient) -> None:
    client.mkcol("r")
    files = {"r/a.txt": b"alpha", "r/b.bin": os.urandom(700_000), "r/empty": b""}
    sent: list[int] = []
    reply = send(
        client, [item(p, d, mtime=1_700_000_000) for p, d in files.items()], on_progress=sent.append
    )
    assert reply.status == 200 and reply.to_resend == [] and reply.refused == []
    assert [r.path for r in reply.results] == list(files)
    for result in reply.results:
        assert result.stored
        assert on_disk(devserver, result.path).read_bytes() == files[result.path]
        entry = client.stat(result.path)
        assert entry is not None
        assert result.etag == entry.etag
        # as PutResult.file_id (OC-FileId): the padded id plus the instance id
        assert entry.file_id and (result.file_id or "").startswith(f"{int(entry.file_id):08d}oc")
        assert entry.last_modified is not None and entry.last_modified.timestamp() == 1_700_000_000
    assert sent == sorted(sent) and sent[-1] > sum(map(len, files.values()))


def test_a_refused_name_fails_only_that_file(devserver: Any, client: NextcloudClient) -> None:
    client.mkcol("r")
    reply = send(
        client,
        [item("r/one.txt", b"1"), item("r/.htaccess", b"2"), item("r/three.txt", b"3")],
    )
    by_path = reply.by_path()
    assert by_path["r/one.txt"].stored and by_path["r/three.txt"].stored
    refused = by_path["r/.htaccess"]
    assert refused.status is BulkStatus.REFUSED
    assert refused.message == '".htaccess" is a forbidden file or folder name.'
    assert reply.refused == [refused] and reply.to_resend == []
    assert not on_disk(devserver, "r/.htaccess").exists()


def test_md5_mismatch_rejects_that_file_and_the_rest_is_resent(
    devserver: Any, client: NextcloudClient
) -> None:
    wrong = hashlib.md5(b"not the bytes", usedforsecurity=False).hexdigest()
    items = [item("a.txt", b"a"), item("b.txt", b"b", md5_hex=wrong), item("c.txt", b"c")]
    reply = send(client, items)
    assert reply.status == 400
    assert [r.status for r in reply.results] == [
        BulkStatus.STORED,
        BulkStatus.REJECTED,
        BulkStatus.NOT_PROCESSED,
    ]
    assert reply.to_resend == ["b.txt", "c.txt"]
    assert not on_disk(devserver, "b.txt").exists() and not on_disk(devserver, "c.txt").exists()
    again = send(client, [item("b.txt", b"b"), item("c.txt", b"c")])
    assert all(r.stored for r in again.results)


def test_quota_refuses_the_file_that_does_not_fit(devserver: Any, client: NextcloudClient) -> None:
    devserver.set_quota("alice", 50_000)
    reply = send(client, [item("small.txt", b"s" * 100), item("big.bin", os.urandom(80_000))])
    assert reply.by_path()["small.txt"].stored
    (refused,) = reply.refused
    assert refused.path == "big.bin" and "Could not create path" in (refused.message or "")
    # Sent alone, the same file names the precise error.
    with pytest.raises(QuotaExceeded):
        client.put("big.bin", io.BytesIO(b"b" * 80_000), 80_000)


def test_cut_mid_body_leaves_whole_files_or_none_and_a_resend_completes(
    devserver: Any, client: NextcloudClient
) -> None:
    files = {f"f{i}.bin": os.urandom(200_000) for i in range(5)}
    devserver.faults.cut_after(500_000, method="POST", path="/bulk")
    with pytest.raises(ConnectionLost):
        send(client, [item(p, d) for p, d in files.items()])
    landed = {p for p in files if on_disk(devserver, p).exists()}
    assert landed == {"f0.bin", "f1.bin"}  # the parts completed before the cut, whole
    for p in landed:
        assert on_disk(devserver, p).read_bytes() == files[p]
    assert list(devserver.ctx.tmp_dir.iterdir()) == []
    # What the caller does after a cut: send them all again (an overwrite is harmless).
    reply = send(client, [item(p, d) for p, d in files.items()])
    assert all(r.stored for r in reply.results)
    assert {p: on_disk(devserver, p).read_bytes() for p in files} == files


def test_server_without_bulk_upload(devserver: Any, client: NextcloudClient) -> None:
    from tellakit.devserver import bulk

    bulk.set_enabled(devserver.ctx, False)
    with pytest.raises(BulkUploadUnsupported) as info:
        send(client, [item("x.txt", b"x")])
    assert info.value.status == 501
    assert not on_disk(devserver, "x.txt").exists()


def test_whole_request_errors_are_mapped(devserver: Any, client: NextcloudClient) -> None:
    devserver.faults.respond(503, method="POST", path="/bulk")
    with pytest.raises(ServerUnavailable):
        send(client, [item("x.txt", b"x")])
    wrong = Credentials(devserver.url, "alice", "wrong")
    with NextcloudClient(wrong) as bad, pytest.raises(AuthenticationFailed):
        send(bad, [item("x.txt", b"x")])
    assert not on_disk(devserver, "x.txt").exists()


def test_cancel_stops_before_anything_is_written(devserver: Any, client: NextcloudClient) -> None:
    token = threading.Event()
    token.set()
    with pytest.raises(Cancelled):
        send(client, [item("x.txt", b"x" * 10_000)], cancel=token)
    assert not on_disk(devserver, "x.txt").exists()


def test_a_source_that_ends_early_fails_the_request(
    devserver: Any, client: NextcloudClient
) -> None:
    short = BulkItem("short.bin", io.BytesIO(b"abc"), 10, md5_hex="0" * 32)
    with pytest.raises(ShortRead):
        send(client, [item("ok.txt", b"ok"), short])
    assert not on_disk(devserver, "short.bin").exists()


def test_body_is_streamed_in_bounded_pieces_and_matches_its_length() -> None:
    data = [os.urandom(3 * 1024 * 1024), b"", os.urandom(10)]
    parts = [_prepared(item(f"d/{i}", d, mtime=1_700_000_000)) for i, d in enumerate(data)]
    body = MultipartBody(parts, None, None)
    pieces = [bytes(p) for p in body]
    assert max(map(len, pieces)) <= MAX_SLICE
    raw = b"".join(pieces)
    assert len(raw) == len(body) == body.sent
    assert raw.endswith(f"--{body.boundary}--\r\n".encode())
    md5 = hashlib.md5(data[0], usedforsecurity=False).hexdigest()
    assert f"X-File-Path: /d/0\r\nX-File-MD5: {md5}\r\n".encode() in raw


def test_bad_items_are_refused_before_sending(client: NextcloudClient) -> None:
    with pytest.raises(ValueError, match="same path"):
        send(client, [item("a", b"1"), item("/a", b"2")])
    with pytest.raises(ValueError, match="line breaks"):
        send(client, [item("a\r\nX-File-Path: b", b"1")])
    with pytest.raises(ValueError, match="seekable"):
        send(client, [BulkItem("a", iter([b"x"]), 1)])  # type: ignore[arg-type]


def test_vault_files_go_in_one_request_md5_from_a_first_read(
    devserver: Any, client: NextcloudClient, tmp_path: Any
) -> None:
    from tellakit.vault import create_vault

    vault = create_vault(tmp_path / "vault", "a passphrase", work_factor=10)
    try:
        files = {f"photo{i}.jpg": os.urandom(50_000 + i * 70_000) for i in range(3)}
        ids = {name: vault.import_bytes(data, name).id for name, data in files.items()}
        readers = [vault.open_file(ids[name]) for name in files]
        items = [BulkItem(name, r, r.size) for name, r in zip(files, readers, strict=True)]
        devserver.log.clear()
        reply = send(client, items)
        for r in readers:
            r.close()
    finally:
        vault.close()
    assert all(r.stored for r in reply.results)
    assert {p: on_disk(devserver, p).read_bytes() for p in files} == files
    assert len(devserver.log) == 1  # three files, one request
