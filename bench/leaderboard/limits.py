"""Bounds on what a submission may hold: submissions are untrusted, so size and count are capped before reading.

Names that become folder names or page identifiers must match NAME; free text is shown escaped and capped.
"""

from __future__ import annotations

import re

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
RUN_FILES = ("manifest.json", "metrics.json", "items.parquet")
MAX_JSON_BYTES = 2 * 1024**2
MAX_ITEMS_BYTES = 64 * 1024**2
MAX_TOTAL_BYTES = 512 * 1024**2
MAX_RUNS = 256
MAX_VARIANTS_PER_FAMILY = 64
MAX_ITEMS_ROWS = 200_000
MAX_TEXT = 2_000
MAX_DEPTH = 32  # folder levels below a bundle's or submissions folder's root
