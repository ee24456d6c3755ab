"""``python -m sentiero ...``: the same command as ``sentiero ...``, for environments where
pip's script folder is not on PATH."""

from sentiero.cli import main

main()
