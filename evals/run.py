"""``python evals/run.py [--suite NAME …] [--provider …] [--report PATH] [--baseline PATH]``:
the same runner as ``readloom eval``, for a checkout without the CLI wired."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
