"""Make ``sentiero`` importable from the source tree when the package is not installed."""

import sys
from pathlib import Path

try:
    import sentiero  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
