"""autoresearch: an autonomous experiment loop against one target metric."""

from __future__ import annotations

__version__ = "0.1.0"
