# mypy: ignore-errors
# (checked as an installed package by tests/packaging/test_wheel.py; in the source tree its
# sibling `domain` is not on any search path)
"""The embedding service's own application package, importing its own ``domain``."""

from domain import OWNER, Deployment


def announce(deployment: Deployment) -> str:
    return f"{OWNER}: {deployment.name} finished"
