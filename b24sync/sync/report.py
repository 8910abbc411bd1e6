"""What one cycle did, as `sync` prints it and `status` keeps it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CycleReport:
    job: str
    dry_run: bool = False
    listed: int = 0
    created: int = 0
    recovered: int = 0
    updated: int = 0
    closed: int = 0
    written_back: int = 0
    stage_moves: int = 0
    conflicts: int = 0
    missing: int = 0
    deals_deleted: int = 0
    failed: dict[int, str] = field(default_factory=dict)  # deal -> the reason, in the manager's words
    conflicted: dict[int, str] = field(default_factory=dict)  # deal -> what differs, for a conflict opened now
    codes: dict[int, str] = field(default_factory=dict)  # deal -> the stable error code (b24sync.errors)
    planned: list[str] = field(default_factory=list)
    held: str = ""  # a guard held something back: what, and how to go on

    def summary(self) -> str:
        parts = [f"{self.job}: {self.listed} checked"]
        for label, count in (("created", self.created), ("recovered", self.recovered), ("updated", self.updated),
                             ("closed", self.closed), ("written back", self.written_back),
                             ("stage moves", self.stage_moves), ("conflicts", self.conflicts),
                             ("documents missing in 1C", self.missing),
                             ("deals deleted in Bitrix24", self.deals_deleted),
                             ("failed", len(self.failed))):
            if count:
                parts.append(f"{count} {label}")
        if self.dry_run:
            parts.append(f"dry run: {len(self.planned)} planned, nothing written")
        if self.held:
            parts.append(f"HELD: {self.held}")
        return ", ".join(parts)

    def hold(self, what: str) -> None:
        """A guard held something back; several guards in one cycle are all said."""
        self.held = f"{self.held}; {what}" if self.held else what

    @property
    def ok(self) -> bool:
        return not self.failed and not self.held
