"""Media commands (placeholder until its issue fills it in)."""

commands: list = []
