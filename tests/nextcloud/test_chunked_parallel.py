"""Several chunk PUTs of one ChunkedUpload in flight at once, on one client."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tellakit.errors import ConnectionLost
from tellakit.nextcloud import ChunkedUpload, NextcloudClient, new_transfer_id
from tellakit.nextcloud.account import parse_capabilities
from tellakit.nextcloud.chunked import parallel_limit

pytestmark = pytest.mark.timeout(120)

CHUNK = 5 * 1024 * 1024  # v2's minimum for every chunk but the last


def put_chunk(
    upload: ChunkedUpload, data: bytes, n: int, barrier: threading.Barrier
) -> tuple[int, float, float]:
    """PUT chunk ``n`` once every thread is ready; (n, start, end) on the monotonic clock."""
    offset, size = upload.chunk_range(n)
    barrier.wait()  # every PUT starts together
    start = time.monotonic()
    upload.upload_chunk(n, io.BytesIO(data[offset : offset + size]), size)
    return n, start, time.monotonic()


def test_parallel_limit_follows_the_server_and_the_pool(client: NextcloudClient) -> None:
    def caps(count: object) -> Any:
        return parse_capabilities(
            {"capabilities": {"files": {"chunked_upload": {"max_parallel_count": count}}}}
        )

    assert client.capabilities().max_parallel == 5  # what the devserver (and Nextcloud) say
    assert parallel_limit(client.capabilities(), client.session) == 5
    assert parallel_limit(caps(None), client.session) == 1  # a server that says nothing
    assert parallel_limit(caps(0), client.session) == 1
    assert parallel_limit(caps(64), client.session) == client.session.pool_size == 16


def test_chunks_put_concurrently_then_one_move_assemble_in_order(
    devserver: Any, client: NextcloudClient
) -> None:
    data = os.urandom(4 * CHUNK + 4321)
    upload = ChunkedUpload(
        client, "par.bin", len(data), new_transfer_id(), chunk_size=CHUNK, mtime=1.7e9
    )
    upload.start()
    count = upload.chunk_count
    barrier = threading.Barrier(count)
    # The last (short) chunk is submitted first: arrival order differs from name order.
    with ThreadPoolExecutor(count) as pool:
        done = list(pool.map(lambda n: put_chunk(upload, data, n, barrier), [5, 4, 3, 2, 1]))
    assert sorted(n for n, _, _ in done) == [1, 2, 3, 4, 5]
    # in flight together: every PUT started before the first one had finished
    assert max(start for _, start, _ in done) < min(end for _, _, end in done)
    assert [size for _, size in upload.received_chunks()] == [CHUNK] * 4 + [4321]
    result = upload.finish()
    assert result.hashes["sha256"] == hashlib.sha256(data).hexdigest()
    assert (devserver.files_root("alice") / "par.bin").read_bytes() == data
    assert len(devserver.log.filter("PUT", f"/{upload.transfer_id}/")) == count


def test_a_cut_with_two_in_flight_loses_exactly_those_two(
    devserver: Any, client: NextcloudClient
) -> None:
    data = os.urandom(4 * CHUNK)
    upload = ChunkedUpload(client, "cut.bin", len(data), new_transfer_id(), chunk_size=CHUNK)
    upload.start()
    _send_all(upload, data, [1])
    # Chunks 2 and 3 go together and both connections are cut mid-body (a link that drops);
    # chunk 4 goes with them and gets through.
    devserver.faults.cut_after(2 * 1024 * 1024, method="PUT", path=r"/0000[23]$", times=2)
    barrier = threading.Barrier(3)
    outcome: dict[int, str] = {}

    def attempt(n: int) -> None:
        try:
            put_chunk(upload, data, n, barrier)
            outcome[n] = "ok"
        except ConnectionLost:
            outcome[n] = "cut"

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(attempt, [2, 3, 4]))
    assert outcome == {2: "cut", 3: "cut", 4: "ok"}
    # What landed is exactly what was acknowledged: whole chunks, none of the cut ones.
    assert upload.received_chunks() == [("00001", CHUNK), ("00004", CHUNK)]
    devserver.log.clear()
    missing = [n for n in range(1, 5) if f"{n:05d}" not in dict(upload.received_chunks())]
    assert missing == [2, 3]  # the resume re-sends at most the two that were in flight
    _send_all(upload, data, missing)
    assert len(devserver.log.filter("PUT", f"/{upload.transfer_id}/")) == 2
    result = upload.finish()
    assert result.hashes["sha256"] == hashlib.sha256(data).hexdigest()


def test_any_subset_of_the_chunks_in_flight_may_land(
    devserver: Any, client: NextcloudClient
) -> None:
    """One cut among two in flight: whichever connection it hits, received_chunks() reports
    exactly the PUTs that succeeded."""
    data = os.urandom(3 * CHUNK)
    upload = ChunkedUpload(client, "any.bin", len(data), new_transfer_id(), chunk_size=CHUNK)
    upload.start()
    devserver.faults.cut_after(3 * 1024 * 1024, method="PUT", path="/uploads/", times=1)
    barrier = threading.Barrier(2)
    succeeded: list[int] = []

    def attempt(n: int) -> None:
        try:
            put_chunk(upload, data, n, barrier)
            succeeded.append(n)
        except ConnectionLost:
            pass

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(attempt, [1, 2]))
    assert len(succeeded) == 1
    assert upload.received_chunks() == [(f"{succeeded[0]:05d}", CHUNK)]


def _send_all(upload: ChunkedUpload, data: bytes, numbers: list[int]) -> None:
    for n in numbers:
        offset, size = upload.chunk_range(n)
        upload.upload_chunk(n, io.BytesIO(data[offset : offset + size]), size)
