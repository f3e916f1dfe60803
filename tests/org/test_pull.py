"""``tellakit org pull``: reports come home decrypted and verified, or are reported with the
reason, and nothing half-written appears in DEST."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tellakit import cli, org
from tellakit.org.state import STATE_FILE, WORK_FOLDER, PullState
from tellakit.sealed import parse_manifest
from tellakit.vault import age

from .conftest import (
    AGE,
    PASSWORD,
    ROOT,
    USER,
    Field,
    Organization,
    content,
    server_snapshot,
    stock_age_decrypts,
)


def _pull_cli(server, organization: Organization, dest: Path, monkeypatch, capsys):
    monkeypatch.setenv("TELLAKIT_SERVER_PASSWORD", PASSWORD)
    code = cli.main(
        [
            "org",
            "pull",
            server.url,
            str(dest),
            "--login",
            USER,
            "--root",
            ROOT,
            "--identity",
            str(organization.key_file),
        ]
    )
    return code, capsys.readouterr().out


def _report_dirs(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir() if not p.name.startswith("."))


def _all_bytes_under(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file())


@pytest.mark.slow
def test_pull_of_20_reports_verifies_the_good_and_names_the_reason_of_the_rest(
    field_vault: Field, organization: Organization, tmp_path: Path, monkeypatch, capsys
) -> None:
    other = str(age.X25519Identity.generate().recipient())
    mine = organization.recipient
    good = []
    for n in range(11):
        files = {f"IMG_{n:04d}.jpg": content(f"good {n} photo", 3000 + 1000 * n)}
        if n % 3 == 0:
            files["notes.txt"] = content(f"good {n} notes", 50)
        if n == 4:  # more than one 1 MiB batch of chunks, and a name used twice
            files["clip.mp4"] = content("good 4 clip", 1_300_000)
        recipients = [other, mine] if n == 5 else [mine]
        good.append(
            field_vault.submit(
                f"Site {n:02d}: market", files, encrypt_to=recipients, readable_names=n in (7, 8)
            )
        )
    foreign = [
        field_vault.submit(
            f"For others {n}", {"a.jpg": content(f"foreign {n}", 900)}, encrypt_to=[other]
        )
        for n in range(3)
    ]
    tampered = field_vault.submit(
        "Tampered", {"a.jpg": content("tampered a", 700), "b.jpg": content("tampered b", 80_000)},
        encrypt_to=[mine],
    )  # fmt: skip
    missing = field_vault.submit(
        "Missing file", {"x.pdf": content("missing x", 5000), "y.pdf": content("missing y", 10)},
        encrypt_to=[mine],
    )  # fmt: skip
    readable = [
        field_vault.submit(f"Clear {n}", {f"scan{n}.png": content(f"clear {n}", 2000 + n)})
        for n in range(4)
    ]
    files_root = field_vault.files_root
    b_age = files_root / tampered.folder / "2.age"
    data = bytearray(b_age.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, same size: only the hashes can tell
    b_age.write_bytes(bytes(data))
    (files_root / missing.folder / "1.age").unlink()
    assert len(field_vault.reports) == 20

    # stock age opens every sealed file sent to the organization
    assert AGE is not None, "stock age is needed here (apt install age)"
    for report in good:
        folder = files_root / report.folder
        sealed_files = sorted(folder.glob("*.age"))
        assert len(sealed_files) == len(report.files) + 2
        opened = {p.name: stock_age_decrypts(organization.key_file, p) for p in sealed_files}
        assert opened["description.txt.age"] == report.description.encode()
        manifest = parse_manifest(opened["manifest.json.age"])
        for f in manifest.files:
            assert opened[f.name] == report.files[f.original_name]

    before = server_snapshot(files_root)
    field_vault.server.log.clear()
    dest = tmp_path / "inbox"
    code, out = _pull_cli(field_vault.server, organization, dest, monkeypatch, capsys)

    assert code == 1
    assert "15 verified, 5 failed, 0 waiting" in out

    def line_of(report) -> str:
        return next(x for x in out.splitlines() if x.startswith(Path(report.folder).name))

    for report in foreign:
        assert "failed: not encrypted to this organization's key" in line_of(report)
    assert "failed: 2.age (b.jpg) was altered on the server" in line_of(tampered)
    assert "failed: missing on the server: 1.age (x.pdf)" in line_of(missing)
    for report in good + readable:
        assert "verified -> " in line_of(report)

    # the good ones, decrypted under their original names and verified
    folders = _report_dirs(dest)
    assert len(folders) == 15
    for report in good + readable:
        local = dest / next(f for f in folders if f.endswith(" " + report.title.replace(":", "_")))
        assert (local / "description.txt").read_bytes() == report.description.encode()
        for name, data in report.files.items():
            assert (local / name).read_bytes() == data
        manifest = parse_manifest((local / "manifest.json").read_bytes())
        assert manifest.sealed == report.sealed and manifest.title == report.title
        assert sorted(p.name for p in local.iterdir()) == sorted(
            [*report.files, "description.txt", "manifest.json"]
        )

    # nothing of the failed ones in DEST, not even in the hidden work folder
    everything = _all_bytes_under(dest)
    for report in [*foreign, tampered, missing]:
        for name, data in report.files.items():
            assert data[:24] not in everything, (report.title, name)
    assert not list((dest / WORK_FOLDER).glob("*/report"))

    # the server is unchanged, and was only read
    assert server_snapshot(files_root) == before
    assert {r.method for r in field_vault.server.log} <= {"GET", "PROPFIND", "HEAD"}

    # a second run pulls nothing again and reports the failures again
    code, out = _pull_cli(field_vault.server, organization, dest, monkeypatch, capsys)
    assert code == 1 and "0 verified, 5 failed, 0 waiting" in out
    assert _report_dirs(dest) == folders


def test_pull_returns_a_dataframe_and_marks_readable_reports(
    field_vault: Field, organization: Organization, tmp_path: Path
) -> None:
    sealed_one = field_vault.submit(
        "Bridge", {"v.mp4": b"video"}, encrypt_to=[organization.recipient]
    )
    field_vault.submit("Bridge", {"v.mp4": b"other video"})  # readable, same title and date
    frame = org.pull(
        field_vault.server.url, USER, PASSWORD, ROOT, organization.key_file, tmp_path / "in"
    )
    assert list(frame.columns) == list(org.COLUMNS)
    assert list(frame["status"]) == ["verified", "verified"]
    assert sorted(frame["layout"]) == ["readable", "sealed"]
    assert str(frame["files"].dtype) == "Int64" and list(frame["files"]) == [1, 1]
    dests = sorted(frame["dest"])
    assert dests[0].endswith(" Bridge") and dests[1].endswith(" Bridge (2)")
    row = frame[frame["layout"] == "sealed"].iloc[0]
    assert row["report"] == Path(sealed_one.folder).name and row["title"] == "Bridge"
    again = org.pull(
        field_vault.server.url, USER, PASSWORD, ROOT, organization.key_file, tmp_path / "in"
    )
    assert again.empty and list(again.columns) == list(org.COLUMNS)


def test_a_report_without_its_manifest_waits_and_is_pulled_once_it_is_complete(
    field_vault: Field, organization: Organization, tmp_path: Path, monkeypatch, capsys
) -> None:
    report = field_vault.submit("Later", {"a.jpg": b"a" * 100}, encrypt_to=[organization.recipient])
    manifest = field_vault.files_root / report.folder / "manifest.json.age"
    held = manifest.read_bytes()
    manifest.unlink()  # as if the upload had not reached the manifest yet
    dest = tmp_path / "in"
    code, out = _pull_cli(field_vault.server, organization, dest, monkeypatch, capsys)
    assert (
        code == 0 and "waiting: no manifest yet" in out and "0 verified, 0 failed, 1 waiting" in out
    )
    assert _report_dirs(dest) == []
    manifest.write_bytes(held)
    code, out = _pull_cli(field_vault.server, organization, dest, monkeypatch, capsys)
    assert code == 0 and "1 verified" in out
    assert (dest / _report_dirs(dest)[0] / "a.jpg").read_bytes() == b"a" * 100


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("manifest", "manifest.json.age cannot be decrypted"),
        ("swap", "1.age (a.jpg) was altered on the server"),
        ("truncate", "has 3 bytes on the server, the manifest says"),
        ("readable", "b.txt was altered on the server"),
    ],
)
def test_damage_on_the_server_is_named(
    field_vault: Field, organization: Organization, tmp_path: Path, damage: str, reason: str
) -> None:
    mine = [organization.recipient]
    if damage == "readable":
        report = field_vault.submit("Clear", {"b.txt": b"original text"})
        (field_vault.files_root / report.folder / "b.txt").write_bytes(b"replaced text")
    else:
        report = field_vault.submit(
            "Sealed", {"a.jpg": b"A" * 5000, "b.jpg": b"B" * 5000}, encrypt_to=mine
        )
        folder = field_vault.files_root / report.folder
        if damage == "manifest":
            data = bytearray((folder / "manifest.json.age").read_bytes())
            data[-5] ^= 0xFF
            (folder / "manifest.json.age").write_bytes(bytes(data))
        elif damage == "swap":  # two valid sealed files of the report exchanged
            one, two = (folder / "1.age").read_bytes(), (folder / "2.age").read_bytes()
            (folder / "1.age").write_bytes(two)
            (folder / "2.age").write_bytes(one)
        else:
            (folder / "2.age").write_bytes(b"abc")
    frame = org.pull(
        field_vault.server.url, USER, PASSWORD, ROOT, organization.key_file, tmp_path / "in"
    )
    assert list(frame["status"]) == ["failed"]
    assert reason in frame["reason"][0]
    assert _report_dirs(tmp_path / "in") == []


def test_titles_and_names_from_the_manifest_cannot_escape_dest(
    field_vault: Field, organization: Organization, tmp_path: Path
) -> None:
    field_vault.submit(
        "../../escape", {"../../etc/passwd": b"x", ".hidden": b"y", "con.txt": b"z"},
        encrypt_to=[organization.recipient], readable_names=True,
    )  # fmt: skip
    dest = tmp_path / "in"
    frame = org.pull(field_vault.server.url, USER, PASSWORD, ROOT, organization.key_file, dest)
    assert list(frame["status"]) == ["verified"]
    (folder,) = _report_dirs(dest)
    assert (dest / folder).parent == dest
    names = sorted(p.name for p in (dest / folder).iterdir())
    assert names == sorted(
        ["description.txt", "manifest.json", "_.._etc_passwd", "hidden", "con_.txt"]
    )
    assert not (tmp_path / "escape").exists()


def test_a_run_killed_around_the_rename_is_settled(tmp_path: Path) -> None:
    dest = tmp_path / "in"
    dest.mkdir()
    state = PullState.load(dest)
    state.begin("https://x/a", "2026-12-02 A")
    state.begin("https://x/b", "2026-12-02 B")
    (dest / "2026-12-02 A").mkdir()  # renamed before the kill; B was not
    settled = PullState.load(dest)
    assert settled.is_pulled("https://x/a") and not settled.is_pulled("https://x/b")
    doc = json.loads((dest / WORK_FOLDER / STATE_FILE).read_text())
    assert set(doc["pulled"]) == {"https://x/a"}


def test_a_foreign_state_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / WORK_FOLDER).mkdir()
    (tmp_path / WORK_FOLDER / STATE_FILE).write_text("[1, 2]")
    with pytest.raises(Exception, match="not a tellakit pull state"):
        PullState.load(tmp_path)


def test_leftover_plaintext_of_a_killed_run_is_removed(
    field_vault: Field, organization: Organization, tmp_path: Path
) -> None:
    field_vault.submit("Once", {"a.jpg": b"a"}, encrypt_to=[organization.recipient])
    dest = tmp_path / "in"
    leftover = dest / WORK_FOLDER / "0123456789abcdef0123" / "report"
    leftover.mkdir(parents=True)
    (leftover / "a.jpg").write_bytes(b"half")
    org.pull(field_vault.server.url, USER, PASSWORD, ROOT, organization.key_file, dest)
    assert not leftover.exists()
    assert [p for p in dest.rglob("*") if p.is_file() and p.read_bytes() == b"half"] == []
