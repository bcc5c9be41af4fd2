"""Item sequences as model input, in NumPy only (no torch), so the torch sequence models
and their ONNX exports pad a history the same way."""

from __future__ import annotations

import numpy as np


def left_pad(sequences: list[np.ndarray], max_len: int) -> np.ndarray:
    """The last max_len items of each sequence as left-padded tokens (n, width), width
    being the longest kept sequence (at least 1). Token 0 is padding, token i + 1 is
    item index i."""
    kept = [np.asarray(s, dtype=np.int64)[-max_len:] for s in sequences]
    width = max([len(s) for s in kept] + [1])
    out = np.zeros((len(kept), width), dtype=np.int64)
    for row, s in enumerate(kept):  # one slice copy per sequence, not per item
        if len(s):
            out[row, width - len(s) :] = s + 1
    return out
