"""Leaving forgotten users out of training data: they are matched by the keyed hash of
their id (lmrec.core.pseudonyms), the only thing the audit table keeps of them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lmrec.core.pseudonyms import user_key


class ForgottenUsers:
    """The forgotten users of a store, matched by keyed hash (their ids are not kept)."""

    def __init__(self, keys: set[str], secret: bytes | None) -> None:
        self.keys = keys
        self.secret = secret
        #: rows dropped by drop_from so far
        self.dropped = 0

    def mask(self, user_ids: pd.Series) -> np.ndarray:
        """True for the rows of forgotten users (each distinct id hashed once)."""
        if not self.keys or self.secret is None:
            return np.zeros(len(user_ids), dtype=bool)
        secret = self.secret
        codes, uniques = pd.factorize(user_ids.astype(str))
        gone = np.array([user_key(secret, u) in self.keys for u in uniques], dtype=bool)
        return gone[codes] if len(uniques) else np.zeros(len(user_ids), dtype=bool)

    def drop_from(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`frame` (with a user_id column) without the forgotten users' rows."""
        out = self.mask(frame["user_id"])
        self.dropped += int(out.sum())
        return frame[~out].reset_index(drop=True) if out.any() else frame
