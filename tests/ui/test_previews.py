"""Previews are decrypted in memory and skipped for files too big to send to the browser."""

from __future__ import annotations

from typing import Any

from tellakit.ui import previews


def test_big_media_get_no_player_only_name_and_size(vault: Any, monkeypatch: Any) -> None:
    file = vault.import_bytes(b"\x00" * 2000, "long.mp4", "video/mp4")
    monkeypatch.setattr(previews, "MAX_MEDIA_BYTES", 1000)
    assert previews.preview_for(vault, file.id, file.mime, file.size) is None


def test_a_player_holds_the_decrypted_bytes(vault: Any) -> None:
    data = b"ID3\x03\x00" + bytes(range(200))
    file = vault.import_bytes(data, "voice.mp3", "audio/mpeg")
    player = previews.preview_for(vault, file.id, file.mime, file.size)
    assert type(player).__name__ == "Audio" and player.value == data and not player.autoplay
