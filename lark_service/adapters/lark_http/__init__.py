"""The Lark Open API over HTTP: transport, retry policy, envelope decoding, token issuer."""

from lark_service.adapters.lark_http.issuer import HttpTokenIssuer
from lark_service.adapters.lark_http.retry import NO_RETRY, RetryPolicy
from lark_service.adapters.lark_http.transport import AiohttpLarkTransport, create_default_transport

__all__ = [
    "NO_RETRY",
    "AiohttpLarkTransport",
    "HttpTokenIssuer",
    "RetryPolicy",
    "create_default_transport",
]
