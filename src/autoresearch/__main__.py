from __future__ import annotations

from autoresearch.cli import run

run()
