"""Lark's resources as msgspec Structs, field names as on the wire."""
