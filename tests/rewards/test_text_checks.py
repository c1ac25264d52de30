"""The column screens read Arrow's buffers directly: chunks and slices must not shift them."""

from __future__ import annotations

import pyarrow as pa

from rewards import text_checks

VALUES = ["Ann", "", "=1+1", "\uff20x", " -2", "Bo\x07b", "Jos?", "ok", "@", "M\u00c3\u00bcller"]


def chunked_and_sliced() -> pa.ChunkedArray:
    """The values in three chunks, two of them slices of larger arrays (non-zero offsets)."""
    padded = pa.array(["pad", *VALUES[:4], "pad"], pa.large_string())
    return pa.chunked_array(
        [
            padded.slice(1, 4),
            pa.array(VALUES[4:7], pa.large_string()),
            pa.array(["x", *VALUES[7:]], pa.large_string()).slice(1),
        ]
    )


def test_screens_agree_with_the_values_however_they_are_chunked() -> None:
    for values in (pa.chunked_array([pa.array(VALUES, pa.large_string())]), chunked_and_sliced()):
        screen = text_checks.Screen(values)
        assert text_checks.formula_like(screen).tolist() == [
            False,
            False,
            True,
            True,
            True,
            False,
            False,
            False,
            True,
            False,
        ]
        assert text_checks.controls(screen).nonzero()[0].tolist() == [5]
        assert text_checks.lost_letters(screen).nonzero()[0].tolist() == [6]
        assert text_checks.garbled(screen).nonzero()[0].tolist() == [9]
        assert text_checks.containing(screen, "@").nonzero()[0].tolist() == [8]
