"""A set of deal IDs that stays small however long the cycle: what a push notes of every deal it lists."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable


class DealIds:
    """Deal IDs as 8-byte integers in one array: a 20,000-deal push notes its deals in 160 KB where a set of ints
    takes about 2 MB (an int object and a hash slot each). The listing comes in ID order, so adding is an append;
    IDs added out of order are sorted (and made unique) at the next lookup."""

    def __init__(self, ids: Iterable[int] = ()) -> None:
        self._ids = array("q")
        self._ordered = True
        self.update(ids)

    def add(self, deal_id: int) -> None:
        if self._ids and deal_id <= self._ids[-1]:
            if deal_id == self._ids[-1]:
                return
            self._ordered = False
        self._ids.append(deal_id)

    def update(self, deal_ids: Iterable[int]) -> None:
        for deal_id in deal_ids:
            self.add(deal_id)

    def __contains__(self, deal_id: object) -> bool:
        ids = self._in_order()
        index = bisect_left(ids, deal_id)  # type: ignore[call-overload]
        return index < len(ids) and ids[index] == deal_id

    def __len__(self) -> int:
        return len(self._in_order())

    def _in_order(self) -> array:
        if not self._ordered:
            self._ids = array("q", sorted(set(self._ids)))
            self._ordered = True
        return self._ids
