"""A text array's bytes, read in place: for checks that look at bytes (the first and last
byte of each cell, ASCII characters taken out) instead of making a string per cell."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def buffers(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``text``'s offsets (one more than its cells: cell ``i`` is ``data[offsets[i] :
    offsets[i + 1]]``) and its whole data buffer; the data is empty when no cell holds text
    (Arrow may then give no buffer, or one of no bytes)."""
    wide = np.int64 if pa.types.is_large_string(text.type) else np.int32
    held = text.buffers()
    if not len(text) or held[1] is None:
        return np.zeros(len(text) + 1, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    offsets = np.frombuffer(held[1], wide)[text.offset : text.offset + len(text) + 1]
    data = held[2]
    if data is None or not data.size:
        return offsets, np.zeros(0, dtype=np.uint8)
    return offsets, np.frombuffer(data, np.uint8)


def holds(values: pa.ChunkedArray, byte: int) -> bool:
    """Whether any cell of ``values`` holds the ASCII ``byte`` (one pass over the bytes, no
    string made): a screen before a regex over the rows."""
    for chunk in values.chunks:
        offsets, data = buffers(chunk)
        if len(data) and (data[offsets[0] : offsets[-1]] == byte).any():
            return True
    return False
