"""The one rich Console that every part printing tables to the terminal shares (cli and compare)."""

from __future__ import annotations

from rich.console import Console

console = Console()
if not console.is_terminal:  # piped or captured: a fixed, readable width; cells wrap (fold), never cut
    console = Console(width=120)
