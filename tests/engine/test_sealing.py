"""engine/sealing.py on its own (an in-memory vault): which wire a report gets, keys made once
and kept, names, sizes, digests and the progress a sealed body stands for."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from fakes import FakeVault

from tellakit.engine.readahead import ReadAhead
from tellakit.engine.sealing import ReadableWire, ReportWire, SealedWire, wire_for
from tellakit.errors import ConnectionSettingsError, VaultCorrupted
from tellakit.nextcloud.models import NameRules
from tellakit.reports import Report
from tellakit.sealed import SealedKey, is_sealed_folder_name
from tellakit.vault import age
from tellakit.vault.age.stream import CHUNK, ENC_CHUNK

RECIPIENT = str(age.X25519Identity.generate().recipient())
FILES = {"IMG 1.jpg": b"a" * (2 * CHUNK + 5), "img 1.JPG": b"", "notes.txt": b"n" * 100}


def _wire(vault: FakeVault, **settings: Any) -> tuple[Report, ReportWire]:
    report = vault.add_report("Market fire", FILES)
    return report, wire_for(vault, report, tellakit_version="9.9", **settings)


def test_an_unfixed_report_takes_the_connections_setting_once() -> None:
    vault = FakeVault()
    report, wire = _wire(vault, encrypt_to=(RECIPIENT,), readable_names=True)
    assert isinstance(wire, SealedWire)
    stored = vault.get_report(report.id)
    assert stored.sealed_to == (RECIPIENT,) and stored.readable_names
    keys = (stored.description_key, [a.sealed_key for a in stored.attachments])
    assert keys[0] and all(keys[1])
    again = wire_for(vault, stored, encrypt_to=(), tellakit_version="9.9")  # setting changed
    assert isinstance(again, SealedWire)  # fixed: the report keeps its layout
    after = vault.get_report(report.id)
    assert (after.description_key, [a.sealed_key for a in after.attachments]) == keys
    readable_report, readable = _wire(vault)
    assert isinstance(readable, ReadableWire)
    assert vault.get_report(readable_report.id).sealed_to == ()
    assert vault.get_report(readable_report.id).description_key is None


def test_each_file_and_the_description_get_their_own_fresh_key() -> None:
    vault = FakeVault()
    report, _ = _wire(vault, encrypt_to=(RECIPIENT,))
    stored = vault.get_report(report.id)
    keys = [
        SealedKey.loads(k or "")
        for k in [stored.description_key, *(a.sealed_key for a in stored.attachments)]
    ]
    assert len({k.file_key for k in keys}) == len(keys) == 4
    assert len({k.nonce for k in keys}) == 4


def test_names_per_layout() -> None:
    vault = FakeVault()
    rules = NameRules()
    report, sealed = _wire(vault, encrypt_to=(RECIPIENT,))
    assert sealed.file_names(report.attachments, rules) == ["1.age", "2.age", "3.age"]
    assert (sealed.description_name, sealed.manifest_name) == (
        "description.txt.age",
        "manifest.json.age",
    )
    assert is_sealed_folder_name(next(sealed.folder_names(rules, after=None)))
    report, readable = _wire(vault)
    assert readable.file_names(report.attachments, rules) == [
        "IMG 1.jpg",
        "img 1 (2).JPG",
        "notes.txt",
    ]
    names = readable.folder_names(rules, after="Market fire (2)")
    assert next(names) == "Market fire (3)"
    report, titled = _wire(vault, encrypt_to=(RECIPIENT,), readable_names=True)
    assert next(titled.folder_names(rules, after=None)) == "Market fire"
    assert titled.file_names(report.attachments, rules)[0] == "1.age"


def test_a_sealed_body_sizes_digest_and_progress() -> None:
    vault = FakeVault()
    report, wire = _wire(vault, encrypt_to=(RECIPIENT,))
    stored = vault.get_report(report.id)
    att = stored.attachments[0]
    body = wire.file(att)
    key = SealedKey.loads(att.sealed_key or "")
    assert body.size == key.sealed_size(att.size)
    assert body.mtime is None and body.announced_sha256() is None  # never the plaintext's
    with body.open() as reader:
        assert isinstance(reader, ReadAhead)
        data = reader.read()
        body.sent_in_order(reader)
    assert len(data) == body.size
    assert data.startswith(b"age-encryption.org/v1\n-> X25519 ")  # opened in test_sealed
    digest = hashlib.sha256(data).hexdigest()
    assert vault.get_report(report.id).attachments[0].sealed_sha256 == digest
    assert body.sha256 == digest and body.announced_sha256() == digest
    shown = [body.plain_bytes(n) for n in range(0, body.size + 1, 997)]
    assert shown == sorted(shown) and shown[0] == 0
    assert body.plain_bytes(key.prefix_size) == 0 and body.plain_bytes(body.size) == att.size
    # After a resume (a read that did not start in the first chunk), one pass makes it.
    report, wire = _wire(vault, encrypt_to=(RECIPIENT,))
    att = vault.get_report(report.id).attachments[0]
    resumed = wire.file(att)
    with resumed.open() as reader:
        reader.seek(SealedKey.loads(att.sealed_key or "").prefix_size + ENC_CHUNK + 3)
        reader.read()
        resumed.sent_in_order(reader)  # nothing learnt
    assert vault.get_report(report.id).attachments[0].sealed_sha256 is None
    with resumed.open() as reader:
        whole = reader.read() or b""
    assert resumed.sha256 == hashlib.sha256(whole).hexdigest()
    assert vault.get_report(report.id).attachments[0].sealed_sha256 == resumed.sha256


def test_a_readable_body_is_the_plaintext_with_its_recorded_digest() -> None:
    vault = FakeVault()
    report, wire = _wire(vault)
    att = report.attachments[2]
    body = wire.file(att)
    assert body.size == att.size == body.plain_bytes(att.size)
    assert body.sha256 == body.announced_sha256() == att.sha256
    with body.open() as reader:
        assert reader.read() == FILES["notes.txt"]


def test_an_unusable_stored_key_or_recipient_stops_before_anything_is_sent() -> None:
    vault = FakeVault()
    report = vault.add_report("bad", FILES)
    vault.update_report_submission(report.id, sealed_to=("age1typo",))
    with pytest.raises(ConnectionSettingsError):
        wire_for(vault, vault.get_report(report.id), tellakit_version="9.9")
    report, wire = _wire(vault, encrypt_to=(RECIPIENT,))
    att = vault.get_report(report.id).attachments[0]
    att.sealed_key = att.sealed_key[:-8] + "AAAAAAA="  # type: ignore[index]
    with pytest.raises(VaultCorrupted, match="sealing key"):
        wire.file(att)
