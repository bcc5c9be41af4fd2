"""Every Python example in docs/metrics.md runs."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_examples_in_metrics_doc_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks, "docs/metrics.md has no Python example"
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {})
