"""Declared hyper-parameter search spaces: what `lmrec tune` may try for a model.

A model class lists its space beside its quick grid (`tuning_grid`, which `compare`
uses): `search_space = {"reg": Float(1.0, 5000.0, log=True)}`. The tuner (Optuna's TPE
sampler) draws from these; nothing here depends on Optuna.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias


@dataclass(frozen=True)
class Float:
    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class Int:
    low: int
    high: int
    log: bool = False


@dataclass(frozen=True)
class Choice:
    values: tuple[Any, ...]


Dimension: TypeAlias = Float | Int | Choice
SearchSpace: TypeAlias = dict[str, Dimension]
