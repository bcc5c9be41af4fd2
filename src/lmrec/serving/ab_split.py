"""A/B tests in the service: requests that name no model are split between live models by
a stable hash of the user id (LMREC_AB='ease:0.5,als:0.5'); an arm NAME@VERSION serves that
registered version, so two versions of one model can be compared ('ease@3:0.5,ease@4:0.5').

The hash is SHA-256 of the salt and the user id, not Python's `hash` (salted per process),
so a user keeps their arm across requests, restarts and replicas. Changing the salt
(LMREC_AB_SALT) draws a fresh split for a new test.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from lmrec.errors import ConfigError

_SCALE = float(2**64)


@dataclass(frozen=True)
class ABSplit:
    """Arms (live model names) with their shares of users, in the order given."""

    arms: tuple[str, ...]
    shares: tuple[float, ...]
    salt: str = "lmrec-ab"

    def arm_for(self, user_id: str) -> str:
        """The arm of `user_id`: its hash as a number in [0, 1) falls in one arm's share."""
        digest = hashlib.sha256(f"{self.salt}\x00{user_id}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") / _SCALE
        edge = 0.0
        for arm, share in zip(self.arms, self.shares, strict=True):
            edge += share
            if point < edge:
                return arm
        return self.arms[-1]  # the shares' sum fell a rounding error short of 1


def parse_ab(spec: str, salt: str = "lmrec-ab") -> ABSplit | None:
    """'ease:0.5,als:0.5' -> the split; an empty spec means no test."""
    spec = spec.strip()
    if not spec:
        return None
    arms: list[str] = []
    shares: list[float] = []
    for part in spec.split(","):
        name, sep, share_text = part.strip().rpartition(":")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(
                f"A/B arm {part.strip()!r} needs the form MODEL:SHARE, e.g. 'ease:0.5,als:0.5'"
            )
        try:
            share = float(share_text)
        except ValueError:
            raise ConfigError(
                f"A/B arm {name!r}: share {share_text!r} is not a number (e.g. ease:0.5)"
            ) from None
        if not 0.0 < share <= 1.0:
            raise ConfigError(f"A/B arm {name!r}: share {share} must be in (0, 1]")
        model, at, version = name.partition("@")
        if at and not (model and version):
            raise ConfigError(f"A/B arm {name!r}: write a version as NAME@VERSION, e.g. ease@3")
        if name in arms:
            raise ConfigError(f"A/B arm {name!r} is given twice")
        arms.append(name)
        shares.append(share)
    if len(arms) < 2:
        raise ConfigError("an A/B test needs at least two arms, e.g. 'ease:0.5,als:0.5'")
    if abs(sum(shares) - 1.0) > 1e-6:
        raise ConfigError(f"A/B shares must add up to 1, not {sum(shares):g} ({spec!r})")
    return ABSplit(tuple(arms), tuple(shares), salt)
