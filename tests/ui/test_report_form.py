"""The report form: title, description, attachments, Save draft / Submit later / Submit."""

from __future__ import annotations

import ipywidgets as w
import pytest

from tellakit.reports import Status
from tellakit.ui import App
from tellakit.ui.report_form import ReportForm
from tellakit.ui.report_list import ReportsView
from tellakit.ui.upload_view import UploadView
from tellakit.vault import create_vault

from .helpers import PASSPHRASE, Context, png_bytes, settle, upload


@pytest.fixture
def form(app: App) -> ReportForm:
    app.screen.open_button.click()
    app.screen.new_button.click()
    assert isinstance(app.screen, ReportForm)
    return app.screen


def test_save_without_a_title_is_refused_with_the_models_message(
    app: App, form: ReportForm
) -> None:
    form.description.value = "something happened"
    form.save_button.click()
    assert form.message.kind == "error"
    assert form.message.text == "A report needs a title before it can be saved."
    assert app.vault.list_reports() == [] and form.report is None


def test_save_draft_stores_the_report_and_says_draft_saved(app: App, form: ReportForm) -> None:
    form.title_input.value = "Checkpoint"
    form.description.value = "Two trucks"
    upload(form, "note.txt", b"plain note", "text/plain")
    form.save_button.click()
    assert form.message.text == "Draft saved" and not form.dirty
    [stored] = app.vault.list_reports(Status.DRAFT)
    assert (stored.title, stored.description) == ("Checkpoint", "Two trucks")
    assert [a.name for a in stored.attachments] == ["note.txt"]
    with app.vault.open_file(stored.attachments[0].file_id) as reader:
        assert reader.read() == b"plain note"
    form.title_input.value = "Checkpoint 2"
    form.save_button.click()
    assert app.vault.get_report(stored.id).title == "Checkpoint 2"
    assert len(app.vault.list_reports()) == 1


def test_an_uploaded_file_goes_into_the_vault_and_leaves_the_upload_widget(
    app: App, form: ReportForm
) -> None:
    upload(form, "a.bin", b"\x00secret bytes", "application/octet-stream")
    assert b"secret bytes" not in repr(form.upload.get_state()).encode()  # none in widget state
    [item] = form.items
    assert app.vault.get_file(item.file_id).size == len(b"\x00secret bytes")


def test_images_get_a_thumbnail_audio_a_player_others_name_and_size(form: ReportForm) -> None:
    upload(form, "photo.png", png_bytes(400), "image/png")
    upload(form, "voice.wav", b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav")
    upload(form, "clip.mp4", b"\x00\x00\x00\x18ftypmp42", "video/mp4")
    upload(form, "doc.pdf", b"%PDF-1.4", "application/pdf")
    tiles = list(form.attachments.children)
    assert [t.item.name for t in tiles] == ["photo.png", "voice.wav", "clip.mp4", "doc.pdf"]
    kinds = [type(t.children[0]).__name__ for t in tiles]
    assert kinds == ["Image", "Audio", "Video", "HTML"]
    thumbnail = tiles[0].children[0]
    assert thumbnail.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(thumbnail.value) < len(png_bytes(400))  # scaled down in memory
    assert "doc.pdf" in tiles[3].children[0].value and "8 B" in tiles[3].children[0].value


def test_removing_an_unsaved_attachment_deletes_the_imported_file_on_save(
    app: App, form: ReportForm
) -> None:
    upload(form, "keep.txt", b"keep", "text/plain")
    upload(form, "drop.txt", b"drop", "text/plain")
    dropped = form.items[1].file_id
    form.attachments.children[1].remove_button.click()
    assert [i.name for i in form.items] == ["keep.txt"]
    form.title_input.value = "With one file"
    form.save_button.click()
    assert [a.name for a in form.report.attachments] == ["keep.txt"]
    assert dropped not in {f.id for f in app.vault.list_files()}


def test_leaving_with_unsaved_changes_asks_and_stay_keeps_the_form(
    app: App, form: ReportForm
) -> None:
    form.title_input.value = "Unsaved"
    form.back_button.click()
    assert app.screen is form and form.confirm.asking
    assert "without saving" in form.confirm.question.value
    form.confirm.no_button.click()
    assert app.screen is form and form.title_input.value == "Unsaved"


def test_leaving_without_saving_discards_the_changes_and_their_files(
    app: App, form: ReportForm
) -> None:
    form.title_input.value = "Unsaved"
    upload(form, "x.txt", b"x", "text/plain")
    form.back_button.click()
    form.confirm.yes_button.click()
    assert isinstance(app.screen, ReportsView)
    assert app.vault.list_reports() == [] and app.vault.list_files() == []


def test_leaving_a_saved_form_does_not_ask(app: App, form: ReportForm) -> None:
    form.title_input.value = "Saved"
    form.save_button.click()
    form.back_button.click()
    assert isinstance(app.screen, ReportsView)


def test_submit_later_puts_the_report_in_the_outbox(app: App, form: ReportForm) -> None:
    form.title_input.value = "Later"
    form.submit_later_button.click()
    [report] = app.vault.list_reports()
    assert report.status is Status.QUEUED
    assert isinstance(app.screen, ReportsView) and app.screen.tabs.selected_index == 1
    assert [r.report.id for r in app.screen.current.rows] == [report.id]


def test_submit_needs_a_title_too(app: App, form: ReportForm) -> None:
    form.submit_button.click()
    assert app.screen is form and form.message.text.startswith("A report needs a title")


def test_submit_sends_the_report_and_shows_the_upload_view(app: App, form: ReportForm) -> None:
    form.title_input.value = "Now"
    upload(form, "a.txt", b"a" * 1000, "text/plain")
    form.submit_button.click()
    assert isinstance(app.screen, UploadView)
    settle(app)
    report = app.vault.list_reports()[0]
    assert report.status is Status.SUBMITTED


def test_an_outbox_report_opens_read_only_and_the_vault_refuses_edits(app: App) -> None:
    report = app.vault.create_report("Queued one", "d")
    app.submitter.submit_later(report.id)
    form = ReportForm(app, app.vault.get_report(report.id))
    app.show(form)
    assert not form.editable
    assert form.title_input.disabled and form.description.disabled and form.save_button.disabled
    assert form.upload not in form.children  # no way to add files
    assert "Outbox" in form.message.text and "Submit later" in form.message.text
    form.title_input.value = "Changed anyway"
    form.save_button.click()  # forced from code: the vault has the last word
    assert form.message.kind == "error" and "only drafts can be edited" in form.message.text
    assert app.vault.get_report(report.id).title == "Queued one"
    form.back_button.click()
    assert isinstance(app.screen, ReportsView)  # read-only forms never ask to confirm


def test_a_large_file_is_attached_by_path_through_the_server_file_picker(
    app: App, form: ReportForm, tmp_path
) -> None:
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "long.mov").write_bytes(b"m" * 300_000)
    form.pick_button.value = True
    picker = form.picker
    assert picker is not None and picker in form._picker_box.children
    picker.show(tmp_path)
    picker.select("recordings")
    assert picker.folder == folder.resolve()
    picker.select("long.mov")
    assert not picker.attach_button.disabled
    picker.attach_button.click()
    assert form.wait(20)
    [item] = form.items
    assert (item.name, item.size) == ("long.mov", 300_000)
    assert (folder / "long.mov").exists()  # the original is left alone


def test_deleting_a_draft_asks_then_deletes_it(app: App, form: ReportForm) -> None:
    form.title_input.value = "To delete"
    form.save_button.click()
    form.delete_button.click()
    assert form.confirm.asking
    form.confirm.yes_button.click()
    assert app.vault.list_reports() == [] and isinstance(app.screen, ReportsView)


def test_reopening_a_draft_shows_its_attachments(app: App) -> None:
    file = app.vault.import_bytes(b"hello", "hello.txt")
    report = app.vault.create_report("Reopen", "desc", [file.id])
    app.open_report(report.id)
    form = app.screen
    assert isinstance(form, ReportForm) and form.editable
    assert form.title_input.value == "Reopen" and [i.name for i in form.items] == ["hello.txt"]
    assert not form.dirty
    assert isinstance(form.attachments.children[0], w.VBox)


def test_a_large_file_finishing_after_the_form_was_left_is_not_kept(
    app: App, form: ReportForm, tmp_path
) -> None:
    big = tmp_path / "big.mov"
    big.write_bytes(b"v" * 3_000_000)
    form.attach_path(big)
    form.back_button.click()  # the import may still be running, or may have just finished
    if form.confirm.asking:
        form.confirm.yes_button.click()
    assert isinstance(app.screen, ReportsView)
    assert form.wait(20)
    assert app.vault.list_files() == []


def test_the_form_runs_on_a_stand_in_context_and_asks_it_to_navigate(tmp_path) -> None:
    with create_vault(tmp_path / "v", PASSPHRASE, work_factor=10) as vault:
        context = Context(vault)
        form = ReportForm(context)
        form.title_input.value = "No app needed"
        upload(form, "n.txt", b"note", "text/plain")
        form.save_button.click()
        form.back_button.click()
        assert context.visits == [("reports", "Drafts")]
        [report] = vault.list_reports()
        assert report.title == "No app needed" and [a.name for a in report.attachments] == ["n.txt"]


def test_leaving_the_form_empties_its_text_fields(app: App, form: ReportForm) -> None:
    form.title_input.value = "Sensitive title"
    form.description.value = "Sensitive description"
    form.save_button.click()
    form.back_button.click()
    assert isinstance(app.screen, ReportsView)
    assert (form.title_input.value, form.description.value) == ("", "")
    assert app.vault.list_reports()[0].title == "Sensitive title"  # saved before emptied


def test_submit_waits_for_files_still_arriving_and_leaving_drops_them(
    app: App, form: ReportForm
) -> None:
    imports = form.upload.imports
    imports.handle({"kind": "begin", "id": "v", "name": "video.mp4", "size": 4, "mime": ""})
    imports.handle({"kind": "slice", "id": "v", "seq": 0, "offset": 0}, [b"vi"])
    form.title_input.value = "With a video"
    form.submit_button.click()
    assert form.message.kind == "warning" and "still being added" in form.message.text
    assert app.vault.list_reports() == [] and app.screen is form
    form.back_button.click()
    assert form.confirm.asking and "still being added are dropped" in form.confirm.question.value
    form.confirm.yes_button.click()
    assert isinstance(app.screen, ReportsView)
    assert app.vault.list_files() == [] and imports.transfers == []
    assert [p for p in (app.vault_dir / "blobs").rglob("*") if p.is_file()] == []
