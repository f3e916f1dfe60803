"""The names of a vault folder (docs/vault-format.md)."""

from __future__ import annotations

FORMAT_NAME = "tellakit-vault"
FORMAT_VERSION = 1
MARKER = "tellakit-vault.json"
IDENTITY = "identity.age"
#: The new and the old identity while a re-key runs (rekey.py).
NEXT_IDENTITY = "identity.age.next"
INDEX = "index.db"
BLOBS = "blobs"
#: Where ``tellakit recover --set-aside`` moves blobs the index does not list.
SET_ASIDE = "set-aside"
