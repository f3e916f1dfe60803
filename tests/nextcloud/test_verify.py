"""Server-computed digests: the upload's X-Hash answer, PATCH X-Recalculate-Hash, a download
and hash (resumable, cancellable), on every development-server profile."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tellakit.errors import ConnectionLost, UnexpectedResponse
from tellakit.nextcloud import (
    Cancelled,
    ChunkedUpload,
    Credentials,
    DigestKind,
    NextcloudClient,
    ServerDigest,
    new_transfer_id,
)

from .conftest import PASSWORD

MIB = 1024 * 1024
CHUNK = 5 * MIB  # v2's smallest chunk but the last
PROFILES = ["nextcloud", "nextcloud-object-store", "nextcloud-old", "behind-proxy", "mysql-utf8"]
#: what each profile offers: (X-Hash on a PUT, X-Hash on a chunked MOVE, PATCH recalculation)
OFFERS = {
    "nextcloud": (True, True, True),
    "nextcloud-object-store": (True, False, True),
    "nextcloud-old": (False, False, False),
    "behind-proxy": (True, True, True),
    "mysql-utf8": (True, True, True),
}


@pytest.fixture(params=PROFILES)
def profiled(request: Any, tmp_path_factory: Any) -> Iterator[tuple[Any, NextcloudClient]]:
    """(server, client for alice) for each profile."""
    from tellakit.devserver import DevServer

    with (
        DevServer(tmp_path_factory.mktemp("verify"), profile=request.param) as srv,
        NextcloudClient(Credentials(srv.url, "alice", PASSWORD)) as client,
    ):
        yield srv, client


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunked(client: NextcloudClient, path: str, data: bytes) -> ChunkedUpload:
    upload = ChunkedUpload(
        client,
        path,
        len(data),
        new_transfer_id(),
        chunk_size=CHUNK,
        checksum_sha256_hex=sha(data),  # what tellakit sends: a claim the server stores
    )
    upload.start()
    for n in range(1, upload.chunk_count + 1):
        offset, size = upload.chunk_range(n)
        upload.upload_chunk(n, io.BytesIO(data[offset : offset + size]), size)
    return upload


def test_put_result_server_digest_is_the_x_hash_answer() -> None:
    from tellakit.nextcloud.models import PutResult

    assert PutResult(201, None, None, hashes={"sha256": "AB" * 32}).server_digest == (
        ServerDigest(DigestKind.UPLOAD_ANSWER, "ab" * 32)
    )
    assert PutResult(201, None, None, hashes={"md5": "00" * 16}).server_digest is None
    assert ServerDigest(DigestKind.DOWNLOAD, "ab" * 32).matches("AB" * 32)


def test_each_profile_offers_what_its_server_computes(profiled: Any) -> None:
    srv, client = profiled
    put_hash, move_hash, recalc = OFFERS[srv.profile.name]
    small = os.urandom(1000)
    result = client.put("single.bin", io.BytesIO(small), len(small), checksum_sha256_hex=sha(small))
    assert (result.server_digest is not None) is put_hash
    if put_hash:
        assert result.server_digest == ServerDigest(DigestKind.UPLOAD_ANSWER, sha(small))
    big = os.urandom(CHUNK + 1234)
    moved = chunked(client, "chunked.bin", big).finish()
    assert (moved.server_digest is not None) is move_hash
    for path, data in (("single.bin", small), ("chunked.bin", big)):
        recalculated = client.recalculated_digest(path)
        assert (recalculated is not None) is recalc
        if recalc:
            assert recalculated == ServerDigest(DigestKind.RECALCULATED, sha(data))
        downloaded = client.download_sha256(path)
        assert downloaded == ServerDigest(DigestKind.DOWNLOAD, sha(data), len(data))


@pytest.mark.parametrize("where", ["single PUT", "middle chunk", "final chunk"])
def test_a_flipped_byte_is_caught_by_every_server_digest_never_by_the_stored_claim(
    profiled: Any, where: str
) -> None:
    srv, client = profiled
    if where == "single PUT":
        data = os.urandom(300_000)
        srv.faults.flip_byte(123_456, method="PUT", path=r"/files/alice/f\.bin$")
        answer = client.put("f.bin", io.BytesIO(data), len(data), checksum_sha256_hex=sha(data))
    else:
        data = os.urandom(2 * CHUNK + 777)
        chunk = "00002" if where == "middle chunk" else "00003"
        srv.faults.flip_byte(500, method="PUT", path=rf"/uploads/alice/[^/]+/{chunk}$")
        answer = chunked(client, "f.bin", data).finish()
    stored = (srv.files_root("alice") / "f.bin").read_bytes()
    assert len(stored) == len(data) and stored != data
    entry = client.stat("f.bin")
    assert entry is not None and entry.size == len(data)  # the size alone says nothing
    # What oc:checksums holds is our own claim where the server kept one: it "matches".
    assert entry.checksums in ({"SHA256": sha(data)}, {})
    digests = [answer.server_digest, client.recalculated_digest("f.bin")]
    digests.append(client.download_sha256("f.bin"))
    offered = [d for d in digests if d is not None]
    assert offered, "every profile offers at least the download"
    for digest in offered:
        assert not digest.matches(sha(data)), digest.kind
        assert digest.matches(sha(stored)), digest.kind


def test_recalculate_hash_answers(devserver: Any, client: NextcloudClient) -> None:
    client.put("r.txt", io.BytesIO(b"abc"), 3)
    client.mkcol("folder")
    assert client.recalculate_hash("r.txt") == sha(b"abc")
    assert client.recalculate_hash("r.txt", "md5") == hashlib.md5(b"abc").hexdigest()  # noqa: S324
    assert client.recalculate_hash("folder") is None  # 501: no handler for a folder
    with pytest.raises(UnexpectedResponse) as info:
        client.recalculate_hash("missing.txt")
    assert info.value.status == 404
    with pytest.raises(ValueError):
        client.recalculate_hash("r.txt", "sha512")
    devserver.faults.respond(405, method="PATCH")  # a proxy that refuses the method
    assert client.recalculate_hash("r.txt") is None


def test_download_continues_after_a_cut_from_the_byte_reached(
    devserver: Any, client: NextcloudClient
) -> None:
    data = os.urandom(6 * MIB + 99)
    client.put("d.bin", io.BytesIO(data), len(data))
    devserver.faults.cut_response_after(2 * MIB + 5, method="GET", path="/d.bin", times=2)
    seen: list[int] = []
    digest = client.download_sha256("d.bin", on_progress=seen.append, resume=3)
    assert digest == ServerDigest(DigestKind.DOWNLOAD, sha(data), len(data))
    gets = devserver.log.filter(method="GET", path="/d.bin")
    assert [r.status for r in gets] == [0, 0, 206]  # cut twice, then the rest
    assert sum(r.bytes_out for r in gets) < len(data) + 3 * MIB  # not started over
    assert seen == sorted(seen) and seen[-1] == len(data)


def test_download_gives_up_after_resume_cuts(devserver: Any, client: NextcloudClient) -> None:
    data = os.urandom(5 * MIB)  # more than 1 + resume answers of 1 MiB each
    client.put("g.bin", io.BytesIO(data), len(data))
    devserver.faults.cut_response_after(MIB, method="GET", path="/g.bin", times=0)  # always
    with pytest.raises(ConnectionLost):
        client.download_sha256("g.bin", resume=2)
    assert len(devserver.log.filter(method="GET", path="/g.bin")) == 3


def test_download_refuses_a_file_replaced_between_pieces(
    devserver: Any, client: NextcloudClient
) -> None:
    data = os.urandom(4 * MIB)
    client.put("c.bin", io.BytesIO(data), len(data))
    devserver.faults.cut_response_after(3 * MIB, method="GET", path="/c.bin")
    replaced = threading.Event()

    def replace(done: int) -> None:
        if done >= MIB and not replaced.is_set():
            replaced.set()
            client.put("c.bin", io.BytesIO(b"other" * 100), 500)

    with pytest.raises(UnexpectedResponse, match="changed on the server"):
        client.download_sha256("c.bin", on_progress=replace)


def test_download_can_be_cancelled_mid_way(devserver: Any, client: NextcloudClient) -> None:
    data = os.urandom(8 * MIB)
    client.put("slow.bin", io.BytesIO(data), len(data))
    devserver.faults.bandwidth(1 * MIB)
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        client.download_sha256("slow.bin", cancel=cancel)
    assert time.monotonic() - started < 6  # generous: the whole file would take 8 s


def test_download_cancelled_while_waiting_for_the_answer(
    devserver: Any, client: NextcloudClient
) -> None:
    client.put("late.bin", io.BytesIO(b"x" * 10), 10)
    devserver.faults.latency(5.0, method="GET")
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        client.download_sha256("late.bin", cancel=cancel)
    assert time.monotonic() - started < 4


def test_download_of_a_missing_file_raises(client: NextcloudClient) -> None:
    with pytest.raises(UnexpectedResponse) as info:
        client.download_sha256("nope.bin")
    assert info.value.status == 404


def test_download_asks_for_the_stored_bytes_uncompressed(
    devserver: Any, client: NextcloudClient
) -> None:
    client.put("t.txt", io.BytesIO(b"text " * 1000), 5000)
    seen: dict[str, str] = {}

    def hook(resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        seen.update(resp.request.headers)

    client.session.hooks["response"].append(hook)
    client.download_sha256("t.txt")
    assert seen["Accept-Encoding"] == "identity"
