"""The Nextcloud protocol layer: session, account checks, WebDAV, chunked and bulk upload, names.

Imports only ``tellakit.errors``, the standard library, requests and defusedxml.
"""

from __future__ import annotations

from tellakit.nextcloud.bulk import BulkFileResult, BulkItem, BulkReply, BulkStatus
from tellakit.nextcloud.cancel import Cancelled, CancelToken
from tellakit.nextcloud.chunked import ChunkedUpload, new_transfer_id, parallel_limit
from tellakit.nextcloud.client import NextcloudClient
from tellakit.nextcloud.loginflow import poll_login_flow, start_login_flow
from tellakit.nextcloud.models import (
    Capabilities,
    Credentials,
    DavEntry,
    DigestKind,
    LoginFlow,
    NameRules,
    PutResult,
    ServerDigest,
    UserInfo,
)
from tellakit.nextcloud.names import (
    refuses_4byte_utf8,
    sanitize_name,
    unique_candidates,
    without_4byte_utf8,
)
from tellakit.nextcloud.urls import is_loopback_host, normalize_server_url

__all__ = [
    "BulkFileResult",
    "BulkItem",
    "BulkReply",
    "BulkStatus",
    "CancelToken",
    "Cancelled",
    "Capabilities",
    "ChunkedUpload",
    "Credentials",
    "DavEntry",
    "DigestKind",
    "LoginFlow",
    "NameRules",
    "NextcloudClient",
    "PutResult",
    "ServerDigest",
    "UserInfo",
    "is_loopback_host",
    "new_transfer_id",
    "normalize_server_url",
    "parallel_limit",
    "poll_login_flow",
    "refuses_4byte_utf8",
    "sanitize_name",
    "start_login_flow",
    "unique_candidates",
    "without_4byte_utf8",
]
