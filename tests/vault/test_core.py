"""The Vault API: lifecycle, passphrases, files, reports, the connection, threads."""

from __future__ import annotations

import hashlib
import io
import threading
from pathlib import Path

import pytest

from tellakit.errors import (
    AttachmentNotFound,
    InvalidTransition,
    MissingTitle,
    ReportNotFound,
    VaultCorrupted,
    VaultError,
    VaultExists,
    VaultLocked,
    VaultNotFound,
    WrongPassphrase,
)
from tellakit.reports import FileState, Status
from tellakit.vault import ConnectionSettings, Vault, create_vault, open_vault
from tellakit.vault.age import CHUNK

from .conftest import FAST_WORK_FACTOR, PASSPHRASE


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_create_lays_out_the_documented_files(vault: Vault) -> None:
    names = {p.name for p in vault.path.iterdir()}
    assert {"tellakit-vault.json", "identity.age", "index.db", "blobs"} <= names
    assert (vault.path / "tellakit-vault.json").read_text().strip() == (
        '{"format": "tellakit-vault", "version": 1}'
    )
    assert vault.recipient.startswith("age1")


def test_create_refuses_an_existing_vault_or_a_non_empty_folder(
    vault: Vault, tmp_path: Path
) -> None:
    with pytest.raises(VaultExists):
        create_vault(vault.path, "x", work_factor=FAST_WORK_FACTOR)
    other = tmp_path / "stuff"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(VaultExists):
        create_vault(other, "x", work_factor=FAST_WORK_FACTOR)


def test_open_missing_vault_is_vault_not_found(tmp_path: Path) -> None:
    with pytest.raises(VaultNotFound):
        open_vault(tmp_path / "nothing", "x")


def test_reopen_keeps_files_reports_and_recipient(vault: Vault) -> None:
    f = vault.import_bytes(b"hello", "a.txt")
    r = vault.create_report("Title", "desc", [f.id])
    recipient = vault.recipient
    vault.close()
    with open_vault(vault.path, PASSPHRASE) as again:
        assert again.recipient == recipient
        assert again.get_file(f.id) == f
        assert again.get_report(r.id) == r


def test_wrong_passphrase_is_refused_and_changes_nothing(vault: Vault) -> None:
    vault.import_bytes(b"data", "a.bin")
    vault.close()
    before = _snapshot(vault.path)
    with pytest.raises(WrongPassphrase):
        open_vault(vault.path, "not the passphrase")
    assert _snapshot(vault.path) == before


def test_change_passphrase_rewrites_identity_only(vault: Vault) -> None:
    f = vault.import_bytes(b"evidence", "e.txt")
    vault.close()
    before = _snapshot(vault.path)
    with open_vault(vault.path, PASSPHRASE) as v, pytest.raises(WrongPassphrase):
        v.change_passphrase("wrong", "new")
    assert _snapshot(vault.path) == before
    with open_vault(vault.path, PASSPHRASE) as v:
        v.change_passphrase(PASSPHRASE, "new passphrase")
    after = _snapshot(vault.path)
    assert after.keys() == before.keys()
    assert {k for k in before if before[k] != after[k]} == {"identity.age"}
    with pytest.raises(WrongPassphrase):
        open_vault(vault.path, PASSPHRASE)
    with open_vault(vault.path, "new passphrase") as v:
        assert v.open_file(f.id).read() == b"evidence"


def test_lock_makes_every_call_raise_vault_locked(vault: Vault) -> None:
    f = vault.import_bytes(b"x" * 10, "x.bin")
    reader = vault.open_file(f.id)
    vault.lock()
    assert vault.locked
    for call in (
        vault.list_files,
        vault.list_reports,
        lambda: vault.get_file(f.id),
        lambda: vault.import_bytes(b"y", "y"),
        lambda: vault.create_report("t"),
        vault.get_connection,
        lambda: reader.read(1),
    ):
        with pytest.raises(VaultLocked):
            call()


def test_context_manager_locks_on_exit(vault_path: Path) -> None:
    with create_vault(vault_path, PASSPHRASE, work_factor=FAST_WORK_FACTOR) as v:
        v.import_bytes(b"1", "1")
    with pytest.raises(VaultLocked):
        v.list_files()


def test_destroy_removes_identity_first_and_then_everything(vault: Vault) -> None:
    vault.import_bytes(b"x" * 100, "x.bin")
    vault.destroy()
    assert not vault.path.exists()
    with pytest.raises(VaultLocked):
        vault.list_files()
    with pytest.raises(VaultNotFound):
        open_vault(vault.path, PASSPHRASE)


def test_destroy_leaves_foreign_files_but_the_vault_cannot_open(vault: Vault) -> None:
    (vault.path / "someone-elses.txt").write_text("keep me")
    vault.destroy()
    assert [p.name for p in vault.path.iterdir()] == ["someone-elses.txt"]


def test_vault_without_identity_cannot_open(vault: Vault) -> None:
    vault.close()
    (vault.path / "identity.age").unlink()
    with pytest.raises(VaultCorrupted):
        open_vault(vault.path, PASSPHRASE)


# --- files ------------------------------------------------------------------------------------


def test_import_path_streams_and_leaves_the_original(vault: Vault, tmp_path: Path) -> None:
    src = tmp_path / "clip.mp4"
    data = bytes(range(256)) * 1000
    src.write_bytes(data)
    f = vault.import_path(src)
    assert (f.name, f.mime, f.size) == ("clip.mp4", "video/mp4", len(data))
    assert f.sha256 == hashlib.sha256(data).hexdigest()
    assert src.read_bytes() == data
    g = vault.import_path(src, name="renamed.bin", mime="application/x-test", remove_original=True)
    assert (g.name, g.mime) == ("renamed.bin", "application/x-test")
    assert not src.exists()
    assert vault.open_file(g.id).read() == data


@pytest.mark.parametrize("kind", ["bytes", "memoryview", "bytearray", "fileobj"])
def test_import_fileobj_accepts_what_file_upload_gives(vault: Vault, kind: str) -> None:
    data = b"upload " * 20000
    source = {
        "bytes": data,
        "memoryview": memoryview(data),
        "bytearray": bytearray(data),
        "fileobj": io.BytesIO(data),
    }[kind]
    f = vault.import_fileobj(source, "note.pdf")
    assert (f.mime, f.size, f.sha256) == (
        "application/pdf",
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    assert vault.open_file(f.id).read() == data


def test_unknown_mime_defaults_to_octet_stream(vault: Vault) -> None:
    assert vault.import_bytes(b"?", "mystery").mime == "application/octet-stream"


def test_failed_import_leaves_nothing(vault: Vault) -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def read(self, n: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 3:
                raise OSError("disk gone")
            return b"z" * CHUNK

    with pytest.raises(OSError, match="disk gone"):
        vault.import_fileobj(Broken(), "broken.bin")  # type: ignore[arg-type]
    assert vault.list_files() == []
    assert not any(p.is_file() for p in (vault.path / "blobs").rglob("*"))


def test_export_file_writes_a_verified_copy(vault: Vault, tmp_path: Path) -> None:
    data = b"A" * (CHUNK * 2 + 5)
    f = vault.import_bytes(data, "report.pdf")
    out = vault.export_file(f.id, tmp_path)
    assert out == tmp_path / "report.pdf"
    assert out.read_bytes() == data
    with pytest.raises(FileExistsError):
        vault.export_file(f.id, out)
    explicit = vault.export_file(f.id, tmp_path / "copy.pdf")
    assert explicit.read_bytes() == data


def test_list_get_and_delete_files(vault: Vault) -> None:
    a = vault.import_bytes(b"a", "a")
    b = vault.import_bytes(b"b", "b")
    assert {f.id for f in vault.list_files()} == {a.id, b.id}
    vault.delete_file(a.id)
    assert [f.id for f in vault.list_files()] == [b.id]
    with pytest.raises(AttachmentNotFound):
        vault.get_file(a.id)
    with pytest.raises(AttachmentNotFound):
        vault.open_file(a.id)


def test_a_file_attached_to_a_report_cannot_be_deleted(vault: Vault) -> None:
    f = vault.import_bytes(b"a", "a")
    vault.create_report("T", file_ids=[f.id])
    with pytest.raises(VaultError, match="attached"):
        vault.delete_file(f.id)
    assert vault.open_file(f.id).read() == b"a"


# --- reports ----------------------------------------------------------------------------------


def test_create_report_needs_a_title(vault: Vault) -> None:
    for title in ("", "   "):
        with pytest.raises(MissingTitle):
            vault.create_report(title)
    assert vault.list_reports() == []


def test_create_report_copies_file_metadata(vault: Vault) -> None:
    f = vault.import_bytes(b"12345", "photo.jpg")
    r = vault.create_report("  Flood  ", "water everywhere", [f.id])
    assert (r.title, r.description, r.status) == ("Flood", "water everywhere", Status.DRAFT)
    (a,) = r.attachments
    assert (a.file_id, a.name, a.mime, a.size, a.sha256, a.position, a.state) == (
        f.id,
        "photo.jpg",
        "image/jpeg",
        5,
        f.sha256,
        0,
        FileState.PENDING,
    )
    assert r.created_at.tzinfo is not None


def test_save_report_edits_a_draft(vault: Vault) -> None:
    a = vault.import_bytes(b"a", "a.txt")
    b = vault.import_bytes(b"bb", "b.txt")
    r = vault.create_report("Draft", file_ids=[a.id])
    r.title, r.description = "Draft 2", "more"
    r.attach(b)
    r.attachments.reverse()
    saved = vault.save_report(r)
    assert (saved.title, saved.description) == ("Draft 2", "more")
    assert [x.file_id for x in saved.attachments] == [b.id, a.id]
    assert [x.position for x in saved.attachments] == [0, 1]
    assert saved.updated_at >= r.updated_at
    assert vault.get_report(r.id) == saved


def test_save_without_title_is_missing_title(vault: Vault) -> None:
    r = vault.create_report("Draft")
    r.title = ""
    with pytest.raises(MissingTitle):
        vault.save_report(r)
    assert vault.get_report(r.id).title == "Draft"


def test_an_outbox_or_submitted_report_cannot_be_edited(vault: Vault) -> None:
    r = vault.create_report("Sent")
    vault.set_status(r.id, Status.QUEUED)
    r.title = "changed"
    with pytest.raises(InvalidTransition) as info:
        vault.save_report(r)
    assert "'queued'" in str(info.value)
    assert vault.get_report(r.id).title == "Sent"
    vault.set_status(r.id, Status.UPLOADING)
    vault.set_status(r.id, Status.SUBMITTED)
    with pytest.raises(InvalidTransition):
        vault.save_report(r)


def test_set_status_follows_the_model_and_records_reason(vault: Vault) -> None:
    r = vault.create_report("R")
    with pytest.raises(InvalidTransition) as info:
        vault.set_status(r.id, Status.SUBMITTED)
    assert "'draft'" in str(info.value) and "'submitted'" in str(info.value)
    vault.set_status(r.id, Status.UPLOADING)
    got = vault.set_status(r.id, Status.INTERRUPTED, reason="server unavailable", retryable=True)
    assert (got.status, got.reason, got.retryable) == (
        Status.INTERRUPTED,
        "server unavailable",
        True,
    )
    vault.set_status(r.id, Status.UPLOADING)
    done = vault.set_status(r.id, Status.SUBMITTED)
    assert done.submitted_at is not None and done.reason is None
    with pytest.raises(InvalidTransition):
        vault.set_status(r.id, Status.DRAFT)
    with pytest.raises(ReportNotFound):
        vault.set_status("nope", Status.QUEUED)


def test_leaving_the_draft_state_fixes_the_layout_from_the_connection(vault: Vault) -> None:
    recipient = "age1x" + "q" * 53  # stored as given: the vault does not parse recipients
    settings = ConnectionSettings("https://x", "a", "a", "pw", encrypt_to=(recipient,))
    unconnected = vault.create_report("before connecting")
    vault.set_status(unconnected.id, Status.QUEUED)
    assert vault.get_report(unconnected.id).sealed_to is None  # fixed when it first runs
    vault.set_connection(settings)
    sealed, later = vault.create_report("sealed"), vault.create_report("later")
    assert vault.get_report(sealed.id).sealed_to is None  # a draft is not fixed yet
    got = vault.set_status(sealed.id, Status.UPLOADING)
    assert (got.sealed_to, got.readable_names, got.sealed) == ((recipient,), False, True)
    vault.set_connection(ConnectionSettings("https://x", "a", "a", "pw", readable_names=True))
    vault.set_status(sealed.id, Status.PAUSED)
    assert vault.get_report(sealed.id).sealed_to == (recipient,)  # fixed once, kept
    got = vault.set_status(later.id, Status.QUEUED)
    assert (got.sealed_to, got.readable_names, got.sealed) == ((), True, False)


def test_list_reports_by_status_newest_first(vault: Vault) -> None:
    ids = [vault.create_report(f"R{i}").id for i in range(5)]
    vault.set_status(ids[1], Status.QUEUED)
    vault.set_status(ids[3], Status.UPLOADING)
    assert [r.id for r in vault.list_reports()] == ids[::-1]
    assert [r.id for r in vault.list_reports(Status.DRAFT)] == [ids[4], ids[2], ids[0]]
    assert [r.id for r in vault.list_reports([Status.QUEUED, Status.UPLOADING])] == [ids[3], ids[1]]
    assert vault.list_reports([]) == []


def test_delete_report_keeps_its_files(vault: Vault) -> None:
    f = vault.import_bytes(b"keep", "k")
    r = vault.create_report("R", file_ids=[f.id])
    vault.delete_report(r.id)
    with pytest.raises(ReportNotFound):
        vault.get_report(r.id)
    with pytest.raises(ReportNotFound):
        vault.delete_report(r.id)
    assert vault.open_file(f.id).read() == b"keep"
    vault.delete_file(f.id)  # no longer attached


def test_submission_bookkeeping_is_persisted(vault: Vault) -> None:
    f = vault.import_bytes(b"x" * 10, "x.bin")
    r = vault.create_report("R", file_ids=[f.id])
    a = r.attachments[0]
    vault.update_report_submission(
        r.id, remote_folder="Tella/R (2)", description_sent=True, attempts=2
    )
    vault.update_attachment(
        r.id,
        a.id,
        state=FileState.UPLOADED,
        bytes_sent=10,
        remote_name="x.bin",
        remote_path="Tella/R (2)/x.bin",
        transfer_id="t-123",
        chunk_size=5 << 20,
        checksum="SHA256:ab",
    )
    vault.close()
    with open_vault(vault.path, PASSPHRASE) as v:
        got = v.get_report(r.id)
        assert (got.remote_folder, got.description_sent, got.manifest_sent, got.attempts) == (
            "Tella/R (2)",
            True,
            False,
            2,
        )
        b = got.attachments[0]
        assert (b.state, b.bytes_sent, b.remote_path, b.transfer_id, b.chunk_size, b.checksum) == (
            FileState.UPLOADED,
            10,
            "Tella/R (2)/x.bin",
            "t-123",
            5 << 20,
            "SHA256:ab",
        )
        with pytest.raises(TypeError):
            v.update_attachment(r.id, a.id, name="evil")
        with pytest.raises(TypeError):
            v.update_report_submission(r.id, status="submitted")
        with pytest.raises(AttachmentNotFound):
            v.update_attachment(r.id, "missing", bytes_sent=1)


def test_list_reports_uses_two_queries_for_many_reports(vault: Vault) -> None:
    f = vault.import_bytes(b"x", "x")
    with vault._index.transaction():  # bulk insert for speed; the API path is tested above
        for i in range(2000):
            vault.create_report(f"Report {i}", file_ids=[f.id])
    statements: list[str] = []
    vault._index._con.set_trace_callback(statements.append)
    reports = vault.list_reports()
    vault._index._con.set_trace_callback(None)
    assert len(reports) == 2000
    assert all(len(r.attachments) == 1 for r in reports)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2


# --- the connection ---------------------------------------------------------------------------


def test_connection_round_trip_and_password_not_in_repr(vault: Vault) -> None:
    assert vault.get_connection() is None
    settings = ConnectionSettings(
        server_url="https://cloud.example.org",
        login="ana@example.org",
        user_id="ana",
        password="app-password-XYZ",
        is_app_password=True,
        root_folder="Tella",
        auto_retry=True,
    )
    assert "app-password-XYZ" not in repr(settings)
    vault.set_connection(settings)
    vault.close()
    with open_vault(vault.path, PASSPHRASE) as v:
        assert v.get_connection() == settings
        v.delete_connection()
        assert v.get_connection() is None


# --- threads ----------------------------------------------------------------------------------


def test_concurrent_imports_and_updates_from_threads(vault: Vault) -> None:
    report = vault.create_report("Threads")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(5):
                f = vault.import_bytes(bytes([n]) * (1000 + i), f"{n}-{i}.bin")
                vault.update_report_submission(report.id, attempts=n)
                assert vault.open_file(f.id).read() == bytes([n]) * (1000 + i)
                vault.list_reports()
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(vault.list_files()) == 30


def test_lock_while_threads_work_stops_them_with_vault_locked(vault: Vault) -> None:
    report = vault.create_report("Busy")
    outcomes: list[BaseException | None] = []
    started = threading.Barrier(5)

    def work() -> None:
        started.wait()
        try:
            for i in range(10_000):
                vault.update_report_submission(report.id, attempts=i)
                vault.import_bytes(b"x" * 100, "x")
            outcomes.append(None)
        except BaseException as exc:  # collected and checked in the main thread
            outcomes.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    started.wait()
    vault.lock()
    for t in threads:
        t.join(timeout=60)
    assert len(outcomes) == 4
    assert all(isinstance(o, VaultLocked) for o in outcomes), outcomes
    with open_vault(vault.path, PASSPHRASE) as again:  # consistent afterwards
        files = again.list_files()
        for f in files:
            assert again.open_file(f.id).read() == b"x" * 100
        blobs = [p for p in (vault.path / "blobs").rglob("*") if p.is_file()]
        assert len(blobs) == len(files)
