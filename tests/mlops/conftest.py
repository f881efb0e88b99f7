"""Test helpers of this folder are imported by name (``bkt_sim``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
