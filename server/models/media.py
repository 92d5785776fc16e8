"""Tables of the media part; filled in by its issue. Every model here must be listed in __all__."""

__all__: list[str] = []
