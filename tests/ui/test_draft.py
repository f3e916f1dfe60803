"""The draft logic without widgets: the working copy, the dirty check, saving, and clean-up of
files imported for a report that was never saved with them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tellakit.errors import InvalidTransition, MissingTitle
from tellakit.reports import Status
from tellakit.ui.draft import Draft
from tellakit.vault import Vault, create_vault

from .helpers import PASSPHRASE


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    with create_vault(tmp_path / "vault", PASSPHRASE, work_factor=10) as v:
        yield v


def file_ids(vault: Vault) -> set[str]:
    return {f.id for f in vault.list_files()}


def test_a_new_draft_is_clean_until_something_changes(vault: Vault) -> None:
    draft = Draft(vault)
    assert not draft.dirty and draft.editable and draft.report is None
    draft.title = "Checkpoint"
    assert draft.dirty
    draft.title = ""
    assert not draft.dirty


def test_save_creates_the_report_then_updates_it(vault: Vault) -> None:
    draft = Draft(vault)
    draft.title, draft.description = "Bridge", "Two trucks"
    draft.add(vault.import_bytes(b"photo", "a.jpg"))
    first = draft.save()
    assert not draft.dirty and draft.items[0].attachment_id == first.attachments[0].id
    draft.title = "Bridge at 14:05"
    second = draft.save()
    assert second.id == first.id and vault.get_report(first.id).title == "Bridge at 14:05"
    assert len(vault.list_reports()) == 1


def test_the_vaults_refusal_propagates_and_nothing_is_saved(vault: Vault) -> None:
    draft = Draft(vault)
    draft.description = "no title"
    with pytest.raises(MissingTitle):
        draft.save()
    assert draft.dirty and vault.list_reports() == []


def test_a_refused_edit_keeps_the_report_as_the_vault_has_it(vault: Vault) -> None:
    report = vault.create_report("Queued", "d")
    vault.set_status(report.id, Status.QUEUED)
    draft = Draft(vault, vault.get_report(report.id))
    assert not draft.editable
    draft.title = "Changed anyway"
    with pytest.raises(InvalidTransition):
        draft.save()
    assert draft.report is not None and draft.report.title == "Queued"


def test_a_removed_unsaved_import_is_deleted_on_save_and_a_kept_one_stays(vault: Vault) -> None:
    draft = Draft(vault)
    keep = draft.add(vault.import_bytes(b"keep", "keep.txt"))
    drop = draft.add(vault.import_bytes(b"drop", "drop.txt"))
    draft.remove(drop.file_id)
    draft.title = "One file"
    draft.save()
    assert file_ids(vault) == {keep.file_id}


def test_discard_deletes_new_imports_but_keeps_the_saved_reports_files(vault: Vault) -> None:
    kept = vault.import_bytes(b"kept", "kept.txt")
    report = vault.create_report("Saved", "", [kept.id])
    draft = Draft(vault, report)
    draft.add(vault.import_bytes(b"new", "new.txt"))
    draft.remove(kept.id)
    assert draft.dirty
    draft.discard()
    assert file_ids(vault) == {kept.id}
    assert [a.file_id for a in vault.get_report(report.id).attachments] == [kept.id]


def test_deleted_drops_every_import_of_the_draft(vault: Vault) -> None:
    draft = Draft(vault)
    draft.add(vault.import_bytes(b"x", "x.txt"))
    draft.title = "To delete"
    report = draft.save()
    vault.delete_report(report.id)
    draft.deleted()
    assert file_ids(vault) == set() and not draft.dirty
