"""WebDAV below /remote.php/dav/files/{uid}/: Nextcloud's statuses, properties and headers."""

from __future__ import annotations

import hashlib
import threading
import time

from tests.devserver.helpers import OC, dav, error_parts, files_url, propfind


def test_mkcol_creates_then_405_when_existing_and_409_without_parent(devserver):
    assert dav("MKCOL", files_url(devserver, "a")).status_code == 201
    again = dav("MKCOL", files_url(devserver, "a"))
    assert again.status_code == 405
    assert error_parts(again) == (
        "Sabre\\DAV\\Exception\\MethodNotAllowed",
        "The resource you tried to create already exists",
    )
    orphan = dav("MKCOL", files_url(devserver, "missing/b"))
    assert orphan.status_code == 409
    assert error_parts(orphan)[1] == "Parent node does not exist"


def test_racing_mkcols_give_one_201_and_405_for_the_rest(devserver):
    # Clients resolve folder-name clashes with MKCOL as the atomic test, so a race must never 500.
    def race(name: str, clients: int) -> list[int]:
        barrier = threading.Barrier(clients)
        statuses: list[int] = []

        def mkcol() -> None:
            barrier.wait()
            statuses.append(dav("MKCOL", files_url(devserver, name)).status_code)

        threads = [threading.Thread(target=mkcol) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return sorted(statuses)

    # 16 clients x 40 folders reproduced the 500 (about 1 in 80 requests) before the fix.
    for attempt in range(40):
        assert race(f"race{attempt}", 16) == [201] + [405] * 15


def test_put_new_201_overwrite_204_with_etag_fileid_headers(devserver):
    r = dav("PUT", files_url(devserver, "f.bin"), data=b"one")
    assert r.status_code == 201
    assert r.headers["ETag"] == r.headers["OC-ETag"]
    fileid = r.headers["OC-FileId"]
    assert fileid[:8].isdigit() and fileid[8:].startswith("oc")
    r2 = dav("PUT", files_url(devserver, "f.bin"), data=b"two!")
    assert r2.status_code == 204
    assert r2.headers["OC-FileId"] == fileid  # the file keeps its id when overwritten
    assert r2.headers["ETag"] != r.headers["ETag"]
    assert (devserver.files_root("alice") / "f.bin").read_bytes() == b"two!"
    assert dav("GET", files_url(devserver, "f.bin")).content == b"two!"


def test_put_without_parent_is_409_and_on_folder_is_409(devserver):
    r = dav("PUT", files_url(devserver, "nope/f.txt"), data=b"x")
    assert r.status_code == 409
    assert error_parts(r)[1] == "Files cannot be created in non-existent collections"
    dav("MKCOL", files_url(devserver, "dir"))
    assert dav("PUT", files_url(devserver, "dir"), data=b"x").status_code == 409


def test_put_with_auto_mkcol_creates_missing_parents(devserver):
    r = dav(
        "PUT",
        files_url(devserver, "n1/n2/f.txt"),
        data=b"x",
        headers={"X-NC-WebDAV-Auto-Mkcol": "1"},
    )
    assert r.status_code == 201
    assert (devserver.files_root("alice") / "n1" / "n2" / "f.txt").read_bytes() == b"x"


def test_put_with_content_range_is_400(devserver):
    r = dav(
        "PUT", files_url(devserver, "r.txt"), data=b"x", headers={"Content-Range": "bytes 0-0/1"}
    )
    assert r.status_code == 400


def test_put_mtime_checksum_and_x_hash(devserver):
    body = b"some content"
    r = dav(
        "PUT",
        files_url(devserver, "h.txt"),
        data=body,
        headers={"X-OC-MTime": "1500000000", "OC-Checksum": "SHA1:abcd", "X-Hash": "all"},
    )
    assert r.status_code == 201
    assert r.headers["X-OC-MTime"] == "accepted"
    assert r.headers["X-Hash-SHA256"] == hashlib.sha256(body).hexdigest()
    assert r.headers["X-Hash-SHA1"] == hashlib.new("sha1", body, usedforsecurity=False).hexdigest()
    assert r.headers["X-Hash-MD5"] == hashlib.new("md5", body, usedforsecurity=False).hexdigest()
    assert (devserver.files_root("alice") / "h.txt").stat().st_mtime == 1500000000
    props = propfind(files_url(devserver, "h.txt"))
    (entry,) = props.values()
    assert [c.text for c in entry[f"{OC}checksums"]] == ["SHA1:abcd"]
    # A PUT without OC-Checksum clears the stored value, as in Nextcloud.
    dav("PUT", files_url(devserver, "h.txt"), data=b"other")
    (entry,) = propfind(files_url(devserver, "h.txt")).values()
    assert f"{OC}checksums" not in entry


def test_non_numeric_mtime_is_rejected(devserver):
    r = dav("PUT", files_url(devserver, "m.txt"), data=b"x", headers={"X-OC-MTime": "soon"})
    assert r.status_code == 400


def test_propfind_nextcloud_properties_and_folder_etags_change_up_the_tree(devserver):
    dav("MKCOL", files_url(devserver, "p"))
    dav("MKCOL", files_url(devserver, "p/q"))
    before = propfind(files_url(devserver, ""), depth="1")
    root_before = before["/remote.php/dav/files/alice/"]
    p_before = before["/remote.php/dav/files/alice/p/"]
    assert root_before[f"{OC}permissions"] == "RGDNVCK"
    assert p_before[f"{OC}id"] == f"{int(p_before[f'{OC}fileid']):08d}" + p_before[f"{OC}id"][8:]
    dav("PUT", files_url(devserver, "p/q/deep.txt"), data=b"12345")
    after = propfind(files_url(devserver, ""), depth="1")
    assert after["/remote.php/dav/files/alice/"]["{DAV:}getetag"] != root_before["{DAV:}getetag"]
    assert after["/remote.php/dav/files/alice/p/"]["{DAV:}getetag"] != p_before["{DAV:}getetag"]
    assert after["/remote.php/dav/files/alice/p/"][f"{OC}size"] == "5"
    (leaf,) = propfind(files_url(devserver, "p/q/deep.txt")).values()
    assert leaf["{DAV:}getcontentlength"] == "5"
    assert leaf[f"{OC}permissions"] == "RGDNVW"
    assert leaf["{DAV:}getetag"].startswith('"')


def test_propfind_missing_is_404(devserver):
    r = dav("PROPFIND", files_url(devserver, "ghost"), headers={"Depth": "0"})
    assert r.status_code == 404


def test_move_keeps_fileid_and_copy_gets_a_new_one(devserver):
    r = dav("PUT", files_url(devserver, "src.txt"), data=b"abc")
    fileid = r.headers["OC-FileId"]
    moved = dav(
        "MOVE",
        files_url(devserver, "src.txt"),
        headers={"Destination": files_url(devserver, "dst.txt")},
    )
    assert moved.status_code == 201
    assert moved.headers["OC-FileId"] == fileid
    copied = dav(
        "COPY",
        files_url(devserver, "dst.txt"),
        headers={"Destination": files_url(devserver, "copy.txt")},
    )
    assert copied.status_code == 201
    assert copied.headers["OC-FileId"] != fileid
    assert (devserver.files_root("alice") / "copy.txt").read_bytes() == b"abc"
    over = dav(
        "COPY",
        files_url(devserver, "dst.txt"),
        headers={"Destination": files_url(devserver, "copy.txt")},
    )
    assert over.status_code == 204


def test_move_errors_409_412_403(devserver):
    dav("PUT", files_url(devserver, "a.txt"), data=b"a")
    dav("PUT", files_url(devserver, "b.txt"), data=b"b")
    no_parent = dav(
        "MOVE",
        files_url(devserver, "a.txt"),
        headers={"Destination": files_url(devserver, "none/a.txt")},
    )
    assert no_parent.status_code == 409
    assert error_parts(no_parent)[1] == "The destination node is not found"
    exists = dav(
        "MOVE",
        files_url(devserver, "a.txt"),
        headers={"Destination": files_url(devserver, "b.txt"), "Overwrite": "F"},
    )
    assert exists.status_code == 412
    outside = dav(
        "MOVE",
        files_url(devserver, "a.txt"),
        headers={"Destination": devserver.url + "/somewhere/else"},
    )
    assert outside.status_code == 403
    assert dav("MOVE", files_url(devserver, "a.txt")).status_code == 400


def test_delete_204_then_404(devserver):
    dav("PUT", files_url(devserver, "d.txt"), data=b"d")
    assert dav("DELETE", files_url(devserver, "d.txt")).status_code == 204
    assert dav("DELETE", files_url(devserver, "d.txt")).status_code == 404
    assert dav("GET", files_url(devserver, "d.txt")).status_code == 404


def test_legacy_webdav_root_serves_the_same_files(devserver):
    r = dav("PUT", f"{devserver.url}/remote.php/webdav/legacy.txt", data=b"old")
    assert r.status_code == 201
    assert dav("GET", files_url(devserver, "legacy.txt")).content == b"old"
    props = propfind(f"{devserver.url}/remote.php/webdav/", depth="1")
    assert "/remote.php/webdav/legacy.txt" in props


def test_other_users_files_are_forbidden(devserver):
    devserver.add_user("bob", "pw")
    assert dav("PROPFIND", files_url(devserver, "", uid="bob")).status_code == 403
    assert dav("PROPFIND", f"{devserver.url}/remote.php/dav/files/").status_code == 403


def test_quota_507_on_put_and_quota_props(devserver):
    devserver.set_quota("alice", 100)
    dav("PUT", files_url(devserver, "small.bin"), data=b"x" * 60)
    r = dav("PUT", files_url(devserver, "big.bin"), data=b"x" * 50)
    assert r.status_code == 507
    assert error_parts(r) == (
        "Sabre\\DAV\\Exception\\InsufficientStorage",
        "Insufficient space in big.bin, 50 required, 40 available",
    )
    assert not (devserver.files_root("alice") / "big.bin").exists()
    root = propfind(files_url(devserver, ""))["/remote.php/dav/files/alice/"]
    assert root["{DAV:}quota-available-bytes"] == "40"
    # As in Nextcloud, the size of the file being replaced is not counted as free.
    assert dav("PUT", files_url(devserver, "small.bin"), data=b"y" * 50).status_code == 507
    assert dav("PUT", files_url(devserver, "small.bin"), data=b"y" * 40).status_code == 204
    # A folder counts as 4096 bytes.
    mkcol = dav("MKCOL", files_url(devserver, "newdir"))
    assert mkcol.status_code == 507
    assert error_parts(mkcol)[1] == "Insufficient space in /. 60 available. Cannot create directory"


def test_quota_checked_while_streaming_without_content_length(devserver):
    devserver.set_quota("alice", 1000)

    def body():
        for _ in range(20):
            yield b"z" * 100

    r = dav("PUT", files_url(devserver, "stream.bin"), data=body())
    assert r.status_code == 507
    assert not (devserver.files_root("alice") / "stream.bin").exists()


def test_unauthenticated_and_wrong_password_get_401_with_challenge(devserver):
    r = dav("PROPFIND", files_url(devserver), auth=None)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Basic realm="Nextcloud", charset="UTF-8"'
    assert dav("PROPFIND", files_url(devserver), auth=("alice", "nope")).status_code == 401


def test_email_login_maps_to_user_id(devserver):
    devserver.add_user("u1234", "pw", login="carol@example.org", display_name="Carol")
    r = dav(
        "PUT",
        files_url(devserver, "c.txt", uid="u1234"),
        auth=("carol@example.org", "pw"),
        data=b"c",
    )
    assert r.status_code == 201
    assert (devserver.files_root("u1234") / "c.txt").read_bytes() == b"c"


def test_locked_file_is_423_while_being_written(devserver):
    import threading

    started = threading.Event()
    release = threading.Event()

    def slow_body():
        yield b"a" * 1000
        started.set()
        release.wait(10)
        yield b"b" * 1000

    results = {}
    t = threading.Thread(
        target=lambda: results.setdefault(
            "put", dav("PUT", files_url(devserver, "busy.bin"), data=slow_body())
        )
    )
    t.start()
    assert started.wait(10)
    # The server marks the file busy when the first PUT's handler starts, which may come a
    # while after the client sent its first bytes (a loaded machine): wait for that, then try.
    deadline = time.monotonic() + 30
    while not devserver.ctx.is_busy("alice", "busy.bin"):
        assert time.monotonic() < deadline, "the first PUT never started writing"
        time.sleep(0.01)
    second = dav("PUT", files_url(devserver, "busy.bin"), data=b"other")
    release.set()
    t.join(10)
    assert second.status_code == 423
    assert "FileLocked" in error_parts(second)[0]
    assert results["put"].status_code == 201
    assert (devserver.files_root("alice") / "busy.bin").read_bytes() == b"a" * 1000 + b"b" * 1000


def test_get_sends_stored_checksum_and_oc_etag(devserver):
    put = dav("PUT", files_url(devserver, "c.bin"), data=b"c", headers={"OC-Checksum": "SHA1:aa"})
    r = dav("GET", files_url(devserver, "c.bin"))
    assert r.headers["OC-Checksum"] == "SHA1:aa"
    assert r.headers["OC-ETag"] == r.headers["ETag"] == put.headers["ETag"]


def test_webdav_lock_makes_writes_without_token_423(devserver):
    dav("PUT", files_url(devserver, "locked.txt"), data=b"v1")
    lock_body = (
        '<?xml version="1.0"?><d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/>'
        "</d:lockscope><d:locktype><d:write/></d:locktype></d:lockinfo>"
    )
    lock = dav(
        "LOCK", files_url(devserver, "locked.txt"), data=lock_body, headers={"Timeout": "Second-60"}
    )
    assert lock.status_code == 200
    r = dav("PUT", files_url(devserver, "locked.txt"), data=b"v2")
    assert r.status_code == 423
    assert (devserver.files_root("alice") / "locked.txt").read_bytes() == b"v1"
    token = lock.headers["Lock-Token"]
    assert (
        dav("UNLOCK", files_url(devserver, "locked.txt"), headers={"Lock-Token": token}).status_code
        == 204
    )
    assert dav("PUT", files_url(devserver, "locked.txt"), data=b"v2").status_code == 204
