"""Helpers shared by tests that compare warehouse tables."""


def rounded(value):
    """A table cell with doubles rounded to 6 decimals: sums of doubles differ in the last bit
    with the order DuckDB's threads add them, which is not a difference a user sees."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, list):
        return [rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value
