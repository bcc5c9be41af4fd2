"""Comparison reports on disk (`lmrec compare` writes one directory per run: report.md,
chart.png, results.json, ...) as the dashboard lists and shows them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from lmrec.serving.problems import ProblemError

#: the files of a report the dashboard serves; anything else in the directory is not exposed
FILES = ("report.md", "results.json", "results.csv", "paired_tests.csv")
#: a report directory name: what `lmrec compare` makes, or a name a user chose
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
# html=False: a report's Markdown cannot inject markup into the page
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


@dataclass(frozen=True)
class ReportSummary:
    name: str
    title: str
    models: list[str]
    charts: list[str]
    modified: float


def list_reports(root: Path) -> list[ReportSummary]:
    """Every directory under `root` holding a report.md, newest first."""
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        if path.is_dir() and _NAME.match(path.name) and (path / "report.md").is_file():
            found.append(
                ReportSummary(
                    name=path.name,
                    title=_title(path / "report.md"),
                    models=[str(row.get("model", "?")) for row in _results(path)],
                    charts=charts_of(path),
                    modified=(path / "report.md").stat().st_mtime,
                )
            )
    return sorted(found, key=lambda r: r.modified, reverse=True)


def report_dir(root: Path, name: str) -> Path:
    """The directory of report `name` under `root`; 404 for anything else (names with
    path separators or dots first never leave `root`)."""
    path = root / name
    if not _NAME.match(name) or not (path / "report.md").is_file():
        raise ProblemError(404, f"no comparison report named {name!r} under {root}")
    return path


def charts_of(path: Path) -> list[str]:
    """The PNG charts of a report directory (chart.png first)."""
    names = sorted(p.name for p in path.glob("*.png") if _NAME.match(p.name))
    return sorted(names, key=lambda n: n != "chart.png")


def report_html(path: Path) -> str:
    """report.md rendered to HTML, raw HTML in it escaped."""
    return _markdown.render((path / "report.md").read_text(encoding="utf-8"))


def report_file(root: Path, name: str, file: str) -> Path:
    path = report_dir(root, name)
    if file not in FILES and file not in charts_of(path):
        raise ProblemError(404, f"report {name!r} has no file {file!r}")
    target = path / file
    if not target.is_file():
        raise ProblemError(404, f"report {name!r} has no file {file!r}")
    return target


def _title(report: Path) -> str:
    with report.open(encoding="utf-8") as f:
        first = f.readline().strip()
    return first.lstrip("#").strip() or report.parent.name


def _results(path: Path) -> list[dict[str, Any]]:
    try:
        rows = json.loads((path / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
