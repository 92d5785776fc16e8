"""The outcome of one `sync()`: what was pushed, uploaded and pulled, and what went wrong."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SyncResult:
    pushed: int = 0
    applied: int = 0
    merged: int = 0
    duplicates: int = 0
    rejected: int = 0
    uploaded: int = 0
    pulled: int = 0
    digest_ok: bool | None = None
    full_resync: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and self.digest_ok is not False

    def summary(self) -> str:
        digest = {True: "ok", False: "MISMATCH", None: "n/a"}[self.digest_ok]
        return (
            f"pushed {self.pushed} (applied {self.applied}, merged {self.merged}, "
            f"duplicate {self.duplicates}, rejected {self.rejected}), uploaded {self.uploaded}, "
            f"pulled {self.pulled} changes, digest {digest}"
            + (f", errors: {'; '.join(self.errors)}" if self.errors else "")
        )
