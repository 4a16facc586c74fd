"""Imported by a replacement forkserver after everything it preloads: it says it is ready by writing
the file `AIKOM_FORKSERVER_READY_FILE` names (see `forkserver._launch_ready`)."""

from __future__ import annotations

import os

if _ready_file := os.environ.get("AIKOM_FORKSERVER_READY_FILE"):
    with open(_ready_file, "w") as ready:
        ready.write(str(os.getpid()))
