"""Child process of the kill -9 tests: ``araneus train`` through the CLI entry point.

Run as ``python _train_child.py ARGS...``: imports everything first, prints ``ready``
(so the parent can time its kill from the start of the real work), then runs
``araneus train ARGS...``.
"""

from __future__ import annotations

import sys

import torch

import araneus.cli
import araneus.models
import araneus.models.train  # noqa: F401 - imported before "ready", like the rest

if __name__ == "__main__":
    torch.set_num_threads(1)
    print("ready", flush=True)
    araneus.cli.main(sys.argv[1:])
