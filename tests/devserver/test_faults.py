"""The fault injector (cut, respond, latency, bandwidth, probability) and the request log."""

from __future__ import annotations

import os
import time

import pytest
import requests

from tests.devserver.helpers import dav, files_url

MIB = 1024 * 1024


def test_cut_after_drops_the_connection_mid_body_and_keeps_old_content(devserver):
    dav("PUT", files_url(devserver, "big.bin"), data=b"o" * 10)
    devserver.faults.cut_after(MIB, method="PUT", path=r"big\.bin$")
    with pytest.raises(requests.ConnectionError):
        dav("PUT", files_url(devserver, "big.bin"), data=b"n" * (4 * MIB))
    # The part file is dropped: the file still holds what it held before.
    assert (devserver.files_root("alice") / "big.bin").read_bytes() == b"o" * 10
    record = devserver.log.filter(method="PUT")[-1]
    assert record.status == 0
    assert record.bytes_in == MIB
    # times=1: the next upload goes through.
    r = dav("PUT", files_url(devserver, "big.bin"), data=b"n" * (2 * MIB))
    assert r.status_code == 204
    assert not list((devserver.data_dir / ".devserver" / "tmp").iterdir())


def test_cut_rule_is_not_used_up_by_shorter_requests(devserver):
    devserver.faults.cut_after(1000, method="PUT")
    assert dav("PUT", files_url(devserver, "short.txt"), data=b"s" * 10).status_code == 201
    with pytest.raises(requests.ConnectionError):
        dav("PUT", files_url(devserver, "long.txt"), data=b"l" * 5000)
    assert dav("PUT", files_url(devserver, "long.txt"), data=b"l" * 5000).status_code == 201


def test_cut_after_on_chunk_upload(devserver):
    base = f"{devserver.url}/remote.php/dav/uploads/alice/cut"
    dav("MKCOL", base)
    devserver.faults.cut_after(1000, path="/uploads/")
    with pytest.raises(requests.ConnectionError):
        dav("PUT", base + "/1", data=b"x" * 5000)
    listing = dav("PROPFIND", base, headers={"Depth": "1"})
    assert "<d:href>/remote.php/dav/uploads/alice/cut/1</d:href>" not in listing.text


def test_respond_answers_the_nth_matching_request(devserver):
    devserver.faults.respond(503, method="PUT", nth=2, headers={"Retry-After": "7"})
    codes = [dav("PUT", files_url(devserver, f"f{i}"), data=b"x").status_code for i in range(3)]
    assert codes == [201, 503, 201]
    assert not (devserver.files_root("alice") / "f1").exists()
    devserver.faults.respond(423, path="/f9", times=2)
    r = dav("PUT", files_url(devserver, "f9"), data=b"x")
    assert r.status_code == 423 and "Exception" in r.text
    assert dav("PUT", files_url(devserver, "f9"), data=b"x").status_code == 423
    assert dav("PUT", files_url(devserver, "f9"), data=b"x").status_code == 201


def test_respond_headers_are_sent(devserver):
    devserver.faults.respond(429, headers={"Retry-After": "3"})
    r = dav("GET", files_url(devserver, ""))
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "3"


def test_latency_delays_matching_requests(devserver):
    devserver.faults.latency(0.4, method="GET", path="status")
    start = time.monotonic()
    requests.get(devserver.url + "/status.php", timeout=10)
    assert time.monotonic() - start >= 0.4  # a lower bound only: the sleep happened


def test_bandwidth_caps_the_body_speed(devserver):
    devserver.faults.bandwidth(256 * 1024)
    start = time.monotonic()
    assert dav("PUT", files_url(devserver, "slow.bin"), data=b"s" * (256 * 1024)).status_code == 201
    assert time.monotonic() - start >= 0.9  # 256 KiB at 256 KiB/s cannot be faster than ~1 s
    devserver.faults.clear()
    assert dav("GET", files_url(devserver, "slow.bin")).content == b"s" * (256 * 1024)


def test_lifting_the_bandwidth_cap_speeds_up_requests_in_flight(devserver):
    import threading

    devserver.faults.bandwidth(64 * 1024)  # 2 MiB would take 32 s
    result = {}
    worker = threading.Thread(
        target=lambda: result.setdefault(
            "r", dav("PUT", files_url(devserver, "lift.bin"), data=b"l" * (2 * MIB))
        )
    )
    worker.start()
    time.sleep(0.5)
    assert worker.is_alive()
    devserver.faults.bandwidth(None)
    worker.join(timeout=20)
    assert not worker.is_alive()
    assert result["r"].status_code == 201


def test_probability_is_seeded_and_reproducible(devserver):
    def run():
        devserver.faults.clear()
        devserver.faults.probability(503, 0.5, method="GET", seed=42)
        return [
            requests.get(devserver.url + "/status.php", timeout=10).status_code for _ in range(30)
        ]

    first, second = run(), run()
    assert first == second
    assert 503 in first and 200 in first


def test_faults_clear_and_spec_parsing(devserver):
    devserver.faults.add_spec("PUT:/uploads/:cut:1048576")
    devserver.faults.add_spec("*:status\\.php:status:500")
    assert requests.get(devserver.url + "/status.php", timeout=10).status_code == 500
    devserver.faults.clear()
    assert requests.get(devserver.url + "/status.php", timeout=10).status_code == 200
    with pytest.raises(ValueError):
        devserver.faults.add_spec("PUT:/x:explode:1")


def test_request_log_records_method_path_status_and_bytes(devserver):
    devserver.log.clear()
    dav("PUT", files_url(devserver, "log.txt"), data=b"12345")
    dav("GET", files_url(devserver, "log.txt"))
    dav("GET", files_url(devserver, "nothing"))
    put, get, missing = devserver.log.snapshot()
    assert (put.method, put.path, put.status, put.bytes_in) == (
        "PUT",
        "/remote.php/dav/files/alice/log.txt",
        201,
        5,
    )
    assert (get.status, get.bytes_out) == (200, 5)
    assert missing.status == 404
    assert devserver.log.filter(method="GET", status=404) == [missing]


def test_access_log_line_never_contains_credentials(devserver, caplog):
    caplog.set_level("INFO", logger="tellakit.devserver.access")
    dav("PROPFIND", files_url(devserver), headers={"Depth": "0"})
    lines = [r.getMessage() for r in caplog.records if r.name == "tellakit.devserver.access"]
    assert any('"PROPFIND /remote.php/dav/files/alice/" 207' in line for line in lines)
    assert not any("secret" in line or "Basic" in line for line in lines)


def test_cut_response_after_ends_a_download_after_exactly_n_bytes(devserver):
    body = os.urandom(3 * MIB)
    dav("PUT", files_url(devserver, "dl.bin"), data=body)
    devserver.faults.cut_response_after(MIB + 11, method="GET", path=r"dl\.bin$")
    r = requests.get(
        files_url(devserver, "dl.bin"), auth=("alice", "secret"), stream=True, timeout=30
    )
    got = bytearray()
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as info:
        for piece in r.iter_content(4096):
            got += piece
    assert f"IncompleteRead({MIB + 11} bytes read" in str(info.value)
    assert body.startswith(bytes(got))
    (record,) = devserver.log.filter(method="GET", path="dl.bin")
    assert record.status == 0 and record.bytes_out == MIB + 11
    assert dav("GET", files_url(devserver, "dl.bin")).content == body  # times=1: used up
