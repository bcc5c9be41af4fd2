"""Every registered model has a contract test class (lmrec.testing.RecommenderContract)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from lmrec.models.registry import available_models, get_model_class
from lmrec.testing import RecommenderContract


def _contract_classes() -> set[str]:
    """Model names of every RecommenderContract subclass in this test folder."""
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        name = f"tests.models.{path.stem}"
        if name in sys.modules or path.stem == "test_contract_coverage":
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    names = set()
    todo = list(RecommenderContract.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if "model_name" in vars(cls):
            names.add(cls.model_name)
    return names


COVERED = _contract_classes()


def _shipped_models() -> list[str]:
    """Models lmrec ships (tests may register toy models of their own before this runs)."""
    return [n for n in available_models() if get_model_class(n).__module__.startswith("lmrec.")]


@pytest.mark.parametrize("name", _shipped_models())
def test_registered_model_has_a_contract_test(name: str) -> None:
    assert name in COVERED, (
        f"model '{name}' is registered but no test class inherits RecommenderContract "
        f"with model_name = '{name}'"
    )
