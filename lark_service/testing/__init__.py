"""The test kit that ships with lark-service: a fake Lark Open API server.

Not an adapter: nothing in production imports it. Tests, the ``fake-lark`` and ``demo``
commands and embedders' own tests use it (``lark-service[testing]``).
"""
