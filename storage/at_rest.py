"""What readloom keeps on disk is readable by its own user only.

Every file under ``READLOOM_HOME`` is 0600 and every folder 0700: the process umask is set
to 077 the first time the home is prepared (SQLite, its WAL and journal files, Chroma and
the vault are created later, by libraries that take the umask), and anything already there
from an older install is tightened once per process.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

PRIVATE_UMASK = 0o077
_done: set[Path] = set()
_lock = threading.Lock()


def tighten(path: Path) -> None:
    """Folders 0700, files 0600, below (and including) ``path``; links are not followed."""
    for root, _dirs, files in os.walk(path, followlinks=False):
        os.chmod(root, 0o700)
        for name in files:
            p = os.path.join(root, name)
            if not os.path.islink(p) and stat.S_IMODE(os.lstat(p).st_mode) & 0o077:
                os.chmod(p, 0o600)


def secure_home(home: Path) -> Path:
    """Create ``home`` (0700) and make everything in it private to this user."""
    os.umask(PRIVATE_UMASK)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = home.resolve()
    with _lock:
        if key not in _done:
            tighten(home)
            _done.add(key)
    return home
