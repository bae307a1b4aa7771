"""The embedding service's own domain package (not lark-service's)."""

OWNER = "embedder-example"


class Deployment:
    """Something the service tells a Lark chat about."""

    def __init__(self, name: str) -> None:
        self.name = name
