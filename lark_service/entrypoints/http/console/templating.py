"""The Jinja2 template config of the console (autoescaping on, dates shown in UTC)."""

from __future__ import annotations

import time

from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from lark_service.entrypoints.http.console.paths import TEMPLATE_DIR


def utc(epoch: float | None) -> str:
    """``2026-12-01 16:03:12 UTC``, or a dash."""
    if not epoch:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def duration(seconds: float) -> str:
    """``29 days 23 h``, ``1 h 59 min``, ``4 min``, ``under a minute``."""
    minutes = int(seconds // 60)
    if minutes < 1:
        return "under a minute"
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:  # grants last weeks: days read better than hundreds of hours
        days, hours = divmod(hours, 24)
        return f"{days} days {hours} h" if hours else f"{days} days"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _register_filters(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters["utc"] = utc
    engine.engine.filters["duration"] = duration


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """The app's template config (Litestar has one per app; the console's templates are
    under ``console/`` in it)."""
    return TemplateConfig(
        directory=TEMPLATE_DIR, engine=JinjaTemplateEngine, engine_callback=_register_filters
    )
