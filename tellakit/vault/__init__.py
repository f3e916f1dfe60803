"""The encrypted vault: keys, age blob streams, and the SQLCipher index.

``create_vault`` / ``open_vault`` return a ``Vault``; ``destroy_vault`` is quick delete (no
passphrase needed); ``rebuild_index`` starts a new index for a vault whose index.db is lost;
``loose_permissions`` / ``make_private`` check and fix a vault folder's modes. See
tellakit/vault/opening.py, core.py and docs/vault-format.md.
"""

from __future__ import annotations

from tellakit.vault.blobs import BlobReader
from tellakit.vault.core import Recovery, Vault
from tellakit.vault.destroy import destroy_vault
from tellakit.vault.models import ConnectionSettings, VaultFile
from tellakit.vault.opening import create_vault, open_vault, rebuild_index
from tellakit.vault.perms import loose_permissions, make_private

__all__ = [
    "BlobReader",
    "ConnectionSettings",
    "Recovery",
    "Vault",
    "VaultFile",
    "create_vault",
    "destroy_vault",
    "loose_permissions",
    "make_private",
    "open_vault",
    "rebuild_index",
]
