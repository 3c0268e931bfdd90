"""Helpers shared by tests that compare warehouse tables."""

import math


def same(a, b) -> bool:
    """Equal, with doubles equal within 1e-9 relative: sums of doubles differ in the last bits
    with the order DuckDB's threads add them, which is not a difference a user sees."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def assert_same_rows(got: list, expected: list, what: str = "rows") -> None:
    assert len(got) == len(expected), f"{what}: {len(got)} rows vs {len(expected)}"
    for row, other in zip(got, expected, strict=True):
        assert same(row, other), f"{what} differ:\n{row}\n{other}"
