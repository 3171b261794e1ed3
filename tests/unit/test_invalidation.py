from shared.invalidation import Change, merge


def test_changes_merge_per_collection_and_merchant():
    merged = merge([Change("orders", "m1", ("a",)), Change("orders", "m1", ("b", "a")), Change("orders", "m2", ("c",))])
    assert sorted(merged, key=lambda c: c.merchant_id) == [
        Change("orders", "m1", ("a", "b")),
        Change("orders", "m2", ("c",)),
    ]
