"""The pictures embedded in metadata: each kind draws a decodable, small PNG from plain
numbers; no data or a broken input is a line of text, never an exception."""

from datetime import date, timedelta

import dagster as dg
import numpy as np
import pytest
from images import assert_pictures

from profiling_assets import pictures

DAYS = [date(2026, 10, 1) + timedelta(days=i) for i in range(30)]
rng = np.random.default_rng(0)


@pytest.mark.parametrize("draw", [
    lambda: pictures.bar_chart(["popularity (baseline)", "svd (winner)"],
                               {"recall@10": [0.05, 0.12], "NDCG@10": [0.04, 0.1]}, "recommenders"),
    lambda: pictures.stacked_bars(
        [d.isoformat() for d in DAYS],
        {"lines": {"accepted": rng.integers(900, 1000, 30), "rejected": rng.integers(0, 20, 30)},
         "rejected lines": {"malformed_json": rng.integers(0, 10, 30), "missing_user_id": [0] * 30}},
        "ingest", outline=("lines read", rng.integers(900, 1020, 30))),
    lambda: pictures.stacked_bars(DAYS, {"users": {f"segment {i}": rng.integers(0, 50, 30)
                                                   for i in range(14)}}, "mix", shares=True),
    lambda: pictures.line_chart({"classification": (list(range(1, 401)), np.exp(-np.arange(400) / 99)),
                                 "pairs": ([2, 5], [3.0, 2.5])}, "loss", smooth=True),
    lambda: pictures.line_chart({"events": (DAYS, rng.integers(0, 500, 30))}, "window",
                                vlines={"split": DAYS[20]}, hlines={"floor": 100}),
    lambda: pictures.confusion_matrix([0, 1, 2, 2, 1], [0, 2, 2, 2, 1], ["neg", "mixed", "pos"], "c"),
    lambda: pictures.confusion_matrix(rng.integers(0, 25, 900), rng.integers(0, 25, 900),
                                      [f"category {i}" for i in range(25)], "many labels"),
    lambda: pictures.scatter(rng.normal(size=(20_000, 2)), rng.integers(0, 8, 20_000).astype(str),
                             "20,000 points, 5,000 drawn"),
], ids=["bars", "stacked", "stacked_shares", "loss", "dates", "confusion", "confusion_25",
        "scatter"])
def test_each_picture_kind_is_a_small_decodable_png(draw):
    sizes = assert_pictures({"picture": draw()}, "picture")
    assert sizes["picture"] > 1000


@pytest.mark.parametrize("draw", [
    lambda: pictures.bar_chart([], {}, "empty"),
    lambda: pictures.stacked_bars(["2026-10-01"], {"lines": {"accepted": [0]}}, "all zero"),
    lambda: pictures.line_chart({"loss": ([], [])}, "no steps"),
    lambda: pictures.confusion_matrix([], [], ["a", "b"], "nothing held out"),
    lambda: pictures.scatter(np.zeros((0, 2)), [], "no users"),
])
def test_no_data_says_so_in_text(draw):
    value = draw()
    assert isinstance(value, dg.TextMetadataValue) and value.value.startswith("no picture: no")


def test_a_picture_that_cannot_be_drawn_does_not_raise():
    value = pictures.line_chart({"loss": ([1, 2], ["not", "numbers"])}, "broken")
    assert isinstance(value, dg.TextMetadataValue)
    assert value.value.startswith("no picture: ValueError")
    value = pictures.confusion_matrix([0, 5], [0, 1], ["a", "b"], "label index out of range")
    assert value.value.startswith("no picture: IndexError")


def test_pivot_fills_missing_series_with_zero_and_latest_shares_are_floats():
    days, series = pictures.pivot([("d1", "A", 2), ("d1", None, 1), ("d2", "B big", 3)])
    assert days == ["d1", "d2"] and series == {"A": [2.0, 0.0], "None": [1.0, 0.0], "B big": [0.0, 3.0]}
    shares = pictures.latest_shares({"Bargain hunters": [1, 3], "(no segment)": [1, 1]}, "segment_share")
    assert {k: v.value for k, v in shares.items()} == {"segment_share_bargain_hunters": 0.75,
                                                        "segment_share_no_segment": 0.25}
    assert pictures.latest_shares({"A": [0]}, "s") == {}
