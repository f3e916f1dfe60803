"""``python -m tellakit.devserver``: same as ``tellakit devserver``."""

import sys

from tellakit.devserver.cli import main

sys.exit(main())
