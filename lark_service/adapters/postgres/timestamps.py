from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    """The time for ``created_at`` / ``updated_at`` columns (timezone-aware)."""
    return dt.datetime.now(dt.UTC)
