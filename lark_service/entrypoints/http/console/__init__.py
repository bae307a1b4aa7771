"""The operator console at ``/console``: server-rendered pages over the HTTP API's services.

`create_app` mounts `console_router` and registers `template_config`.
"""

from lark_service.entrypoints.http.console.routes import console_router
from lark_service.entrypoints.http.console.templating import template_config

__all__ = ["console_router", "template_config"]
