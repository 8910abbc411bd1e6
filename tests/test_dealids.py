"""The compact set of deal IDs a push notes of its listing."""

from b24sync.sync.dealids import DealIds


def test_ids_in_listing_order_are_found_and_counted_once():
    ids = DealIds()
    for deal_id in (3, 7, 7, 12):
        ids.add(deal_id)
    assert len(ids) == 3
    assert [deal_id in ids for deal_id in (2, 3, 7, 8, 12, 13)] == [False, True, True, False, True, False]


def test_ids_added_out_of_order_are_sorted_and_made_unique():
    ids = DealIds([40, 5, 40, 17])
    ids.update([5, 2])
    assert len(ids) == 4
    assert 2 in ids and 40 in ids and 17 in ids and 6 not in ids
    ids.add(1)  # after a lookup, adding still works
    assert 1 in ids and len(ids) == 5


def test_an_empty_set_is_false_and_holds_nothing():
    ids = DealIds()
    assert not ids and 0 not in ids
