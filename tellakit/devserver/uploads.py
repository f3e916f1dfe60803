"""Chunked uploads (placeholder)."""

from __future__ import annotations

from typing import Any

from tellakit.devserver.context import Context
from tellakit.devserver.responses import respond


class Uploads:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def handle(self, environ: Any, start_response: Any, path: str, uid: str) -> Any:
        return respond(start_response, 404)
