"""Where the console's templates and stylesheet are (shipped as package data)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE_DIR = HERE / "templates"  # templates are named "console/<page>.html" under it
STATIC_DIR = HERE / "static"
