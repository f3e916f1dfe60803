"""Property: any sequence of import / delete / passphrase change / re-key, with the process
killed (SIGKILL) at any point, leaves every committed file readable, no referenced blob missing,
no orphan, and a vault that opens with the old or the new passphrase.

Each step runs in a child process that kills itself at the n-th *crash point*: before and after
every fsync, rename, unlink and raw write, and before, inside (statements run, not committed)
and after every index write transaction. Hypothesis picks the operations and n. A handful of
examples with small files keeps it to well under a minute on two cores.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tellakit.errors import RekeyInterrupted, WrongPassphrase
from tellakit.vault import Vault, create_vault, open_vault

from .conftest import FAST_WORK_FACTOR

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX kill -9")

CHILD = r"""
import contextlib, hashlib, json, os, signal, sys
from tellakit.vault import index, open_vault

root, passphrase, kill_at, ops = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
seen = [0]

def point():
    seen[0] += 1
    if seen[0] == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

def around(module, name):
    real = getattr(module, name)
    def wrapper(*args, **kwargs):
        point()
        result = real(*args, **kwargs)
        point()
        return result
    setattr(module, name, wrapper)

for name in ("fsync", "replace", "unlink", "write"):
    around(os, name)
real_transaction = index.Index.transaction

@contextlib.contextmanager
def transaction(self):
    point()
    with real_transaction(self) as cur:
        yield cur
        point()  # the statements ran; not committed yet
    point()

index.Index.transaction = transaction

def emit(*item):
    print(json.dumps(item), flush=True)

vault = open_vault(root, passphrase)
emit("opened")
for op in ops:
    emit("start", op)
    if op[0] == "import":
        data = hashlib.shake_256(op[1].encode()).digest(op[2])
        f = vault.import_bytes(data, op[1])
        emit("imported", f.id)
    elif op[0] == "delete":
        vault.delete_file(op[1])
    elif op[0] == "passphrase":
        vault.change_passphrase(passphrase, op[1])
        passphrase = op[1]
    elif op[0] == "rekey":
        vault.rekey(op[1])
        passphrase = op[1]
    emit("done", op)
vault.close()
emit("closed")
"""


def _content(name: str, size: int) -> bytes:
    return hashlib.shake_256(name.encode()).digest(size)


@dataclass
class Model:
    """What must hold: files known committed, and what an interrupted step may have done."""

    passphrase: str
    files: dict[str, bytes] = field(default_factory=dict)  # id -> content
    counter: int = 0
    maybe_new: tuple[str, bytes] | None = None  # (name, content) of an import cut short
    maybe_gone: str | None = None  # id whose deletion was cut short
    maybe_passphrase: str | None = None

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"


def _run(root: Path, model: Model, ops: list[tuple], kill_at: int | None) -> bool:
    """Run ``ops`` in a child (killed at crash point ``kill_at``); update ``model``.

    Returns True if the child was killed.
    """
    concrete: list[list] = []
    alive = sorted(model.files)  # ids known before this child; its own imports are unknown
    for op in ops:
        if op[0] == "import":
            concrete.append(["import", model.fresh("file") + ".bin", op[1]])
        elif op[0] == "delete":
            if alive:
                concrete.append(["delete", alive.pop(op[1] % len(alive))])
        else:
            concrete.append([op[0], model.fresh("passphrase")])
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(root),
            model.passphrase,
            str(kill_at or 0),
            json.dumps(concrete),
        ],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=300,
        check=False,
    )
    killed = child.returncode == -signal.SIGKILL
    assert killed or child.returncode == 0, child.stderr.decode()
    in_flight = None
    for line in child.stdout.decode().splitlines():
        event = json.loads(line)
        if event[0] == "start":
            in_flight = event[1]
        elif event[0] == "imported":
            name, size = in_flight[1], in_flight[2]
            model.files[event[1]] = _content(name, size)
        elif event[0] == "done":
            if in_flight[0] == "delete":
                del model.files[in_flight[1]]
            elif in_flight[0] in ("passphrase", "rekey"):
                model.passphrase = in_flight[1]
            in_flight = None
    if killed and in_flight is not None:
        if in_flight[0] == "import":  # its row may or may not have been committed
            model.maybe_new = (in_flight[1], _content(in_flight[1], in_flight[2]))
        elif in_flight[0] == "delete":
            model.maybe_gone = in_flight[1]
        elif in_flight[0] in ("passphrase", "rekey"):
            model.maybe_passphrase = in_flight[1]
    return killed


def _open(root: Path, model: Model) -> Vault:
    """Open with the passphrase that works now (the new one first, as a user would retry)."""
    tries = [p for p in (model.maybe_passphrase, model.passphrase) if p]
    for passphrase in tries:
        try:
            vault = open_vault(root, passphrase)
        except (WrongPassphrase, RekeyInterrupted):
            continue
        model.passphrase, model.maybe_passphrase = passphrase, None
        return vault
    raise AssertionError(f"no passphrase opens the vault: {tries}")


def _check(root: Path, model: Model) -> None:
    with _open(root, model) as vault:  # no IndexStale: a kill never leaves an orphan
        listed = {f.id: f for f in vault.list_files()}
        for file_id in listed:  # no referenced blob is missing, every byte authenticates
            data = vault.open_file(file_id).read()
            if file_id in model.files:
                assert data == model.files[file_id]
        missing = set(model.files) - set(listed)
        assert missing <= {model.maybe_gone}, missing
        for file_id in missing:
            del model.files[file_id]
        extra = set(listed) - set(model.files)
        if extra:
            assert model.maybe_new is not None and len(extra) == 1, extra
            (file_id,) = extra
            assert listed[file_id].name == model.maybe_new[0]
            assert vault.open_file(file_id).read() == model.maybe_new[1]
            model.files[file_id] = model.maybe_new[1]
        model.maybe_new = model.maybe_gone = None
        assert vault.orphans() == []
    leftovers = [p.name for p in root.iterdir() if p.name.startswith("identity.age.")]
    assert leftovers == []


OPS = st.one_of(
    st.tuples(st.just("import"), st.integers(0, 150_000)),
    st.tuples(st.just("delete"), st.integers(0, 10)),
    st.tuples(st.just("passphrase")),
    st.tuples(st.just("rekey")),
)
SEGMENTS = st.lists(
    st.tuples(st.lists(OPS, min_size=1, max_size=4), st.none() | st.integers(1, 90)),
    min_size=1,
    max_size=3,
)


@pytest.mark.timeout(600)
@settings(
    max_examples=12,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking would take minutes
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(segments=SEGMENTS)
def test_kill_9_anywhere_loses_no_committed_file(tmp_path_factory, segments) -> None:
    root = tmp_path_factory.mktemp("crash") / "vault"
    model = Model("passphrase-0")
    create_vault(root, model.passphrase, work_factor=FAST_WORK_FACTOR).close()
    for ops, kill_at in segments:
        _run(root, model, ops, kill_at)
        _check(root, model)
