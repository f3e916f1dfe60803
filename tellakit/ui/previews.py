"""Previews of vault files, decrypted in memory only (never written to disk).

Images get a thumbnail (scaled down in memory with Pillow when it is installed), audio and
video a player; anything else, or anything too big to send to the browser in one message,
shows its name and size only.
"""

from __future__ import annotations

import io
from typing import Any

import ipywidgets as w

MAX_IMAGE_BYTES = 20_000_000
MAX_MEDIA_BYTES = 50_000_000
THUMBNAIL_PX = 160


def _read_all(vault: Any, file_id: str) -> bytes:
    with vault.open_file(file_id) as reader:
        return bytes(reader.read())


def _thumbnail(data: bytes) -> tuple[bytes, str]:
    """A small PNG of the image when Pillow can make one, else the original bytes."""
    try:
        from PIL import Image
    except ImportError:
        return data, ""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
            out = io.BytesIO()
            image.save(out, format="PNG")
            return out.getvalue(), "png"
    except Exception:  # an image Pillow cannot read: let the browser try the original
        return data, ""


def preview_for(vault: Any, file_id: str, mime: str, size: int) -> w.Widget | None:
    """A thumbnail or player for a vault file, or None when only name and size fit."""
    kind = mime.split("/", 1)[0]
    if kind == "image" and size <= MAX_IMAGE_BYTES:
        data, fmt = _thumbnail(_read_all(vault, file_id))
        image = w.Image(
            value=data,
            format=fmt or mime.split("/", 1)[1],
            layout=w.Layout(max_width=f"{THUMBNAIL_PX}px", max_height=f"{THUMBNAIL_PX}px"),
        )
        image.add_class("tk-thumbnail")
        return image
    if kind in ("audio", "video") and size <= MAX_MEDIA_BYTES:
        cls = w.Audio if kind == "audio" else w.Video
        player = cls(
            value=_read_all(vault, file_id),
            format=mime.split("/", 1)[1],
            autoplay=False,
            controls=True,
            layout=w.Layout(max_width="320px"),
        )
        player.add_class(f"tk-{kind}-player")
        return player
    return None
