"""The layout's names and the manifests: the sealed one built and parsed, both parsed strictly."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import pytest

from tellakit.engine.manifest import build_manifest
from tellakit.errors import ReportManifestError
from tellakit.reports import Attachment, Report, Status
from tellakit.sealed import Layout, ManifestFile, ReportManifest
from tellakit.sealed.layout import (
    attachment_name,
    attachment_number,
    is_sealed_folder_name,
    layout_of,
    sealed_folder_candidates,
    sealed_folder_name,
)
from tellakit.sealed.manifest import build_sealed_manifest, parse_manifest

WHEN = datetime(2026, 12, 2, 14, 32, 59, 120000, tzinfo=timezone.utc)
SHA = "ab" * 32


def test_sealed_folder_names_carry_the_utc_minute_and_a_random_suffix() -> None:
    local = datetime(2026, 12, 2, 15, 32, tzinfo=timezone.utc).astimezone()
    assert sealed_folder_name(WHEN, "3f9a") == "2026-12-02 1432 3f9a"
    assert sealed_folder_name(local.replace(minute=32), "0000").startswith("2026-12-02 1532")
    names = {sealed_folder_name(WHEN) for _ in range(50)}
    assert len(names) > 40 and all(is_sealed_folder_name(n) for n in names)
    first, second = next(sealed_folder_candidates(WHEN)), next(sealed_folder_candidates(WHEN))
    assert first[:15] == second[:15] == "2026-12-02 1432"
    with pytest.raises(ValueError):
        sealed_folder_name(WHEN, "XYZ!")
    assert not is_sealed_folder_name("Market fire")


def test_attachment_names_are_numbers_from_one() -> None:
    assert [attachment_name(n) for n in (1, 2, 10)] == ["1.age", "2.age", "10.age"]
    assert attachment_number("12.age") == 12
    assert attachment_number("0.age") is None and attachment_number("01.age") is None
    assert attachment_number("description.txt.age") is None
    with pytest.raises(ValueError):
        attachment_name(0)


def test_layout_is_told_by_the_manifest() -> None:
    assert layout_of(["1.age", "description.txt.age", "manifest.json.age"]) is Layout.SEALED
    assert layout_of(["IMG.jpg", "description.txt", "manifest.json"]) is Layout.READABLE
    assert layout_of(["1.age", "description.txt.age"]) is None  # still being written
    assert layout_of(["IMG.jpg", "description.txt"]) is None  # Tella, or the manifest off


def sealed_manifest(files: int = 2) -> ReportManifest:
    def entry(n: int) -> ManifestFile:
        return ManifestFile(
            name=attachment_name(n),
            original_name=f"IMG_{n:04d}.jpg",
            size=1000 * n,
            sha256=f"{n:02x}" * 32,
            mime="image/jpeg",
            captured_at=WHEN,
            ciphertext_size=1000 * n + 16 + 16 + 200,
            ciphertext_sha256=f"{n + 100:02x}" * 32,
        )

    return ReportManifest(
        sealed=True,
        tellakit_version="0.1.0",
        title="Protest: 12/03 <north>",
        folder="2026-12-02 1432 3f9a",
        created_at=WHEN,
        submitted_at=WHEN,
        description=ManifestFile(
            name="description.txt.age",
            original_name="description.txt",
            size=15,
            sha256=SHA,
            mime="text/plain",
            ciphertext_size=15 + 32 + 200,
            ciphertext_sha256="cd" * 32,
        ),
        files=tuple(entry(n) for n in range(1, files + 1)),
        report_id="0f" * 16,
    )


def test_the_sealed_manifest_round_trips() -> None:
    manifest = sealed_manifest()
    data = build_sealed_manifest(manifest)
    doc = json.loads(data)
    assert doc["format"] == "tellakit-sealed-report" and doc["format_version"] == 1
    assert doc["created_at"] == "2026-12-02T14:32:59.120000Z"
    assert set(doc["files"][0]) == {
        "name",
        "original_name",
        "mime",
        "size",
        "sha256",
        "captured_at",
        "ciphertext_size",
        "ciphertext_sha256",
    }
    assert parse_manifest(data) == manifest


def test_build_refuses_a_readable_manifest() -> None:
    with pytest.raises(ValueError):
        build_sealed_manifest(ReportManifest(**{**sealed_manifest().__dict__, "sealed": False}))


def _doc() -> dict:
    return json.loads(build_sealed_manifest(sealed_manifest()))


def _mutations():
    def setter(path, value):
        def change(doc):
            target = doc
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value

        return change

    def deleter(path):
        def change(doc):
            target = doc
            for key in path[:-1]:
                target = target[key]
            del target[path[-1]]

        return change

    return {
        "unknown format": (setter(["format"], "other"), "format"),
        "newer version": (setter(["format_version"], 2), "version 2"),
        "bool version": (setter(["format_version"], True), "version"),
        "extra key": (setter(["shared_with"], "x"), "unknown keys"),
        "extra file key": (setter(["files", 0, "comment"], "x"), "unknown keys"),
        "missing title": (deleter(["title"]), "lacks title"),
        "missing sha": (deleter(["files", 1, "ciphertext_sha256"]), "lacks ciphertext_sha256"),
        "title not str": (setter(["title"], 5), "title is not a string"),
        "bool size": (setter(["files", 0, "size"], True), "byte count"),
        "negative size": (setter(["files", 0, "size"], -1), "byte count"),
        "upper sha": (setter(["files", 0, "sha256"], "AB" * 32), "hex SHA-256"),
        "short sha": (setter(["description", "sha256"], "ab"), "hex SHA-256"),
        "time without Z": (setter(["created_at"], "2026-12-02T14:32:59"), "ending in Z"),
        "time garbage": (setter(["files", 0, "captured_at"], "yesterdayZ"), "ISO 8601"),
        "escaping name": (setter(["files", 0, "name"], "../1.age"), "single file name"),
        "dot name": (setter(["description", "name"], ".."), "single file name"),
        "original not str": (setter(["files", 0, "original_name"], None), "not a string"),
        "numbering": (setter(["files", 0, "name"], "2.age"), "'1.age'"),
        "description name": (setter(["description", "name"], "d.age"), "description.name"),
        "ciphertext too small": (setter(["files", 0, "ciphertext_size"], 1000), "does not fit"),
        "files not list": (setter(["files"], {}), "files is not a list"),
        "empty report id": (setter(["report_id"], ""), "report_id"),
    }


@pytest.mark.parametrize("case", sorted(_mutations()))
def test_the_parser_refuses(case: str) -> None:
    change, message = _mutations()[case]
    doc = copy.deepcopy(_doc())
    change(doc)
    with pytest.raises(ReportManifestError, match=message):
        parse_manifest(json.dumps(doc).encode())


@pytest.mark.parametrize(
    "data", [b"", b"\xff\xfe", b"[]", b'{"format": "tellakit-sealed-report"}', b"x" * 10]
)
def test_the_parser_refuses_what_is_not_a_manifest(data: bytes) -> None:
    with pytest.raises(ReportManifestError, match="The report's manifest is unusable"):
        parse_manifest(data)


def test_the_parser_refuses_a_huge_manifest_before_reading_it() -> None:
    with pytest.raises(ReportManifestError, match="larger than"):
        parse_manifest(b" " * (16 * 1024 * 1024 + 1))


def _report() -> Report:
    attachments = [
        Attachment(
            "a1", "f1", "IMG_0001.jpg", "image/jpeg", 5000, SHA, 0, remote_name="IMG_0001.jpg"
        ),
        Attachment(
            "a2",
            "f2",
            "img_0001.JPG",
            "image/jpeg",
            7,
            "cd" * 32,
            1,
            remote_name="img_0001 (2).JPG",
        ),
    ]
    return Report(
        "r1", "Fire", "seen", Status.UPLOADING, None, None, WHEN, WHEN, None, "Fire",
        True, False, 1, attachments,
    )  # fmt: skip


def test_the_engines_readable_manifest_parses() -> None:
    data = build_manifest(
        _report(),
        folder_name="Fire",
        submitted_at=WHEN,
        captured_at={"f1": WHEN, "f2": None},
        tellakit_version="0.1.0",
    )
    manifest = parse_manifest(data)
    assert not manifest.sealed and manifest.report_id is None
    assert [f.name for f in manifest.files] == ["IMG_0001.jpg", "img_0001 (2).JPG"]
    assert manifest.files[0].remote_size == 5000 and manifest.files[1].captured_at is None
    assert manifest.description.name == "description.txt" and manifest.description.size == 4
    # a key added by a later engine is ignored; a duplicate name (ignoring case) is not
    doc = json.loads(data)
    doc["report_id"] = "r1"
    assert parse_manifest(json.dumps(doc).encode()).title == "Fire"
    doc["files"][1]["name"] = "img_0001.JPG"
    with pytest.raises(ReportManifestError, match="used twice"):
        parse_manifest(json.dumps(doc).encode())
