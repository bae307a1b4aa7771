"""SQL persistence for the credential store: PostgreSQL for shared use, SQLite embedded.

    store = await SqlCredentialStore.open(url, secret_key=os.environ.get("LARK_SERVICE_SECRET_KEY"))

Create the schema first with ``upgrade(url)`` / ``await upgrade_async(url)``
(``lark-service db upgrade``).
"""

from __future__ import annotations

import os
from pathlib import Path

from lark_service.adapters.postgres.crypto import SecretCipher, generate_key
from lark_service.adapters.postgres.migrations import (
    current,
    current_async,
    downgrade,
    downgrade_async,
    upgrade,
    upgrade_async,
)
from lark_service.adapters.postgres.rotation import rotate_secret_key
from lark_service.adapters.postgres.store import SqlCredentialStore

__all__ = [
    "SecretCipher",
    "SqlCredentialStore",
    "current",
    "current_async",
    "default_data_dir",
    "default_database_url",
    "downgrade",
    "downgrade_async",
    "generate_key",
    "rotate_secret_key",
    "upgrade",
    "upgrade_async",
]


def default_data_dir() -> Path:
    """``$LARK_SERVICE_DATA_DIR``, else ``$XDG_DATA_HOME/lark-service``, else
    ``~/.local/share/lark-service``."""
    if explicit := os.environ.get("LARK_SERVICE_DATA_DIR"):
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "lark-service"


def default_database_url() -> str:
    """The embedded SQLite database in the data dir (created, mode 0700, if missing).

    Its secret key, unless ``LARK_SERVICE_SECRET_KEY`` is set, is kept in
    ``lark-service.db.key`` beside it with mode 0600.
    """
    data_dir = default_data_dir()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{(data_dir / 'lark-service.db').resolve()}"
