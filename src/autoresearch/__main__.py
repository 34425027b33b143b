from __future__ import annotations

from autoresearch.cli import main

raise SystemExit(main())
