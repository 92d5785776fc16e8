"""The sync engine: HLC, cursors, change feed, merge rules, push application and pull."""
