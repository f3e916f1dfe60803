"""Child process for test_crossprocess.py: open the vault, submit one report, wait, exit.

Usage: python submit_child.py VAULT PASSPHRASE REPORT_ID
Prints the report's recorded status when its worker let go (another process may pause it).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    vault_path, passphrase, report_id = argv

    from tellakit.engine import Submitter
    from tellakit.vault import open_vault

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from engine_helpers import ONE_BY_ONE

    vault = open_vault(vault_path, passphrase)
    submitter = Submitter(vault, tuning=ONE_BY_ONE, max_parallel_reports=1)
    submitter.submit(report_id)
    idle = submitter.wait(report_id, timeout=100)
    print(f"idle={idle} status={vault.get_report(report_id).status.value}", flush=True)
    submitter.close()
    vault.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
