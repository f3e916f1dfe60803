"""The encrypted vault: keys, age blob streams, and the SQLCipher index.

``create_vault`` / ``open_vault`` return a ``Vault``; see tellakit/vault/core.py and
docs/vault-format.md.
"""

from __future__ import annotations

from tellakit.vault.blobs import BlobReader
from tellakit.vault.core import Vault, create_vault, open_vault
from tellakit.vault.models import ConnectionSettings, VaultFile

__all__ = ["BlobReader", "ConnectionSettings", "Vault", "VaultFile", "create_vault", "open_vault"]
