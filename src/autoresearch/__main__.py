from __future__ import annotations

from autoresearch.cli.main import run

run()
