"""The server-side file picker used to attach large files by path."""

from __future__ import annotations

from pathlib import Path

from tellakit.ui.file_picker import ServerFilePicker


def test_lists_folders_first_hides_dotfiles_and_navigates_up_and_down(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_bytes(b"12345")
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "a-folder" / "inner.wav").write_bytes(b"x")
    (tmp_path / ".hidden").write_bytes(b"")
    picked: list[Path] = []
    picker = ServerFilePicker(tmp_path, picked.append)
    labels = [label for label, _ in picker.entries.options]
    assert labels == ["⬑ ..", "a-folder/", "b.txt  (5 B)"]
    picker.select("a-folder")
    assert picker.folder == (tmp_path / "a-folder").resolve()
    assert picker.attach_button.disabled
    picker.select("..")
    assert picker.folder == tmp_path.resolve()
    picker.select("b.txt")
    picker.attach_button.click()
    assert picked == [tmp_path.resolve() / "b.txt"]
