"""The HTTP API (Litestar on uvicorn): ``create_app(services)``."""

from lark_service.entrypoints.http.app import create_app
from lark_service.entrypoints.http.services import Services

__all__ = ["Services", "create_app"]
