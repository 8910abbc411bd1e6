"""The sync decision: a pure function of the binding, the deal's state and its projection."""

from __future__ import annotations

from enum import Enum


class Action(Enum):
    NOTHING = "nothing"  # not triggered and unbound, or bound and unchanged
    CREATE = "create"  # triggered, no binding: look for the document by deal ID, else create it
    UPDATE = "update"  # bound, and the mapped projection changed
    LEAVE = "leave"  # bound, and the deal left the trigger stages


def decide(bound: bool, pushed_hash: str | None, triggered: bool, projection_hash: str | None) -> Action:
    """What to do with one deal.

    `projection_hash` is None when the deal was not projected (it is not
    triggered, or its projection failed and a failure was recorded).
    """
    if not bound:
        return Action.CREATE if triggered else Action.NOTHING
    if not triggered:
        return Action.LEAVE
    if projection_hash is not None and projection_hash != pushed_hash:
        return Action.UPDATE
    return Action.NOTHING
