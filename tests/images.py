"""Helpers for tests of the pictures in materialization metadata."""

import base64
import io
import re

import dagster as dg
import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DATA_URI = re.compile(r"^!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)$")


def png_of(value: dg.MetadataValue) -> bytes:
    """The PNG a markdown metadata value embeds as a data URI, checked to decode as an image."""
    import matplotlib.image

    assert isinstance(value, dg.MarkdownMetadataValue), value
    match = DATA_URI.match(value.value)
    assert match, value.value[:200]
    png = base64.b64decode(match.group(1), validate=True)
    assert png[:8] == PNG_SIGNATURE
    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert pixels.ndim == 3 and min(pixels.shape[:2]) > 100 and np.ptp(pixels) > 0
    return png


def assert_pictures(metadata: dict, *keys: str) -> dict[str, int]:
    """Each key holds a decodable PNG under the size budget; returns their sizes in bytes."""
    sizes = {key: len(png_of(metadata[key])) for key in keys}
    assert all(size < 60_000 for size in sizes.values()), sizes
    return sizes


def assert_floats(metadata: dict, *keys: str) -> None:
    for key in keys:
        assert isinstance(metadata[key], dg.FloatMetadataValue), (key, metadata[key])
        assert np.isfinite(metadata[key].value), key
