"""Item and user text from catalogue tables, through small templates.

Template syntax: `{field}` is a column's value; `[...]` is an optional segment, dropped
whole when any field inside it is missing or empty, so "{title}[ ({year})][. Genres:
{genres}]." never renders "None" or a dangling "Genres: .". Write `[[`, `]]`, `{{`, `}}`
for literal brackets and braces. A field is read from the first of its aliases that the
table has (e.g. `title` from `movie_title`). Lists and '|'-separated cells render as
comma lists; whole-number floats (years read with missing values) render without ".0".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmrec.errors import ConfigError

MOVIE_TEMPLATE = "{title}[ ({year})][. Genres: {genres}][. {description}]."

DEFAULT_ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("title", "movie_title", "name"),
    "year": ("year", "release_year"),
    "genres": ("genres", "genre", "class", "categories"),
    "description": ("description", "overview", "summary", "plot"),
    "gender": ("gender", "sex"),
    "occupation": ("occupation", "job"),
}

# Generic catalogues: these columns lead, in this order, without a label.
_LEAD_COLUMNS = (
    "title",
    "name",
    "movie_title",
    "text",
    "description",
    "overview",
    "summary",
    "plot",
)
_SKIP_COLUMN = re.compile(r"(^|_)(id|url|uri|link|image|img|zip|zip_code|postcode)$", re.I)
_TOKEN = re.compile(r"\[\[|\]\]|\{\{|\}\}|\{[^{}\[\]]+\}|\[|\]|[^\[\]{}]+")


@dataclass(frozen=True)
class _Field:
    name: str


@dataclass(frozen=True)
class _Optional:
    parts: tuple[str | _Field, ...]


class ItemTextTemplate:
    """Renders each row of a table to one line of text (vectorised over rows)."""

    def __init__(
        self,
        template: str,
        aliases: Mapping[str, Sequence[str]] | None = None,
        strip_year_from_title: bool = True,
    ) -> None:
        self.template = template
        self.aliases = {**DEFAULT_ALIASES, **{k: tuple(v) for k, v in (aliases or {}).items()}}
        self.strip_year_from_title = strip_year_from_title
        self._nodes = _parse(template)

    @property
    def fields(self) -> list[str]:
        names: list[str] = []
        for node in self._nodes:
            parts = node.parts if isinstance(node, _Optional) else (node,)
            names += [p.name for p in parts if isinstance(p, _Field) and p.name not in names]
        return names

    def field_values(self, table: pd.DataFrame) -> dict[str, pd.Series]:
        """Each field as strings ('' where missing), aligned with the table's rows."""
        values = {name: _as_text(self.column(table, name)) for name in self.fields}
        if self.strip_year_from_title and "title" in values and "year" in values:
            # MovieLens titles often end in "(1995)": do not say the year twice.
            values["title"] = values["title"].str.replace(r"\s*\(\d{4}\)$", "", regex=True)
        return values

    def render(self, table: pd.DataFrame) -> list[str]:
        values = self.field_values(table)
        out = pd.Series([""] * len(table), index=table.index, dtype=object)
        for node in self._nodes:
            if isinstance(node, str):
                out = out + node
            elif isinstance(node, _Field):
                out = out + values[node.name]
            else:
                segment = pd.Series([""] * len(table), index=table.index, dtype=object)
                present = np.ones(len(table), dtype=bool)
                for part in node.parts:
                    if isinstance(part, _Field):
                        present &= (values[part.name] != "").to_numpy()
                        segment = segment + values[part.name]
                    else:
                        segment = segment + part
                out = out + segment.where(present, "")
        return _tidy(out).tolist()

    def render_one(self, row: Mapping[str, object]) -> str:
        return self.render(pd.DataFrame([dict(row)]))[0]

    def column(self, table: pd.DataFrame, name: str) -> pd.Series:
        for candidate in (name, *self.aliases.get(name, ())):
            if candidate in table.columns:
                return table[candidate]
        return pd.Series([None] * len(table), index=table.index, dtype=object)

    def __repr__(self) -> str:
        return f"ItemTextTemplate({self.template!r})"


def default_item_template(items: pd.DataFrame | None) -> ItemTextTemplate:
    """MovieLens-like tables (a title plus a year or genres) get MOVIE_TEMPLATE; any other
    catalogue joins its text columns: title/description first, then "Label: value"."""
    if items is None:
        return ItemTextTemplate("")
    probe = ItemTextTemplate(MOVIE_TEMPLATE)
    has = {f: any(a in items.columns for a in (f, *probe.aliases[f])) for f in probe.fields}
    if has["title"] and (has["year"] or has["genres"]):
        return probe
    return ItemTextTemplate(generic_template(items, sentence_sep=". ", end="."))


def default_user_template(users: pd.DataFrame | None) -> ItemTextTemplate:
    """User attributes as a short phrase, e.g. "age 24, technician, M"."""
    if users is None:
        return ItemTextTemplate("")
    lead = [c for c in ("age",) if c in users.columns]
    parts = ["[age {age}]"] if lead else []
    for column in _text_columns(users, exclude=set(lead)):
        parts.append(f"[, {{{column}}}]")
    return ItemTextTemplate("".join(parts))


def generic_template(table: pd.DataFrame, sentence_sep: str, end: str) -> str:
    parts: list[str] = []
    for column in _text_columns(table, exclude=set()):
        label = "" if column in _LEAD_COLUMNS else column.replace("_", " ").capitalize() + ": "
        parts.append(f"[{sentence_sep}{_escape(label)}{{{column}}}]")
    return "".join(parts) + (end if parts else "")


def _text_columns(table: pd.DataFrame, exclude: set[str]) -> list[str]:
    usable = [
        c
        for c in map(str, table.columns)
        if c not in exclude
        and not _SKIP_COLUMN.search(c)
        and not re.search(r"[{}\[\]]", c)
        and not pd.api.types.is_numeric_dtype(table[c])
        and not pd.api.types.is_bool_dtype(table[c])
    ]
    lead = [c for c in _LEAD_COLUMNS if c in usable]
    if "title" in lead and "movie_title" in lead:  # readers expose both; say it once
        lead.remove("movie_title")
        usable.remove("movie_title")
    return lead + [c for c in usable if c not in lead]


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}").replace("[", "[[").replace("]", "]]")


def _parse(template: str) -> list[str | _Field | _Optional]:
    nodes: list[str | _Field | _Optional] = []
    group: list[str | _Field] | None = None
    pos = 0
    for match in _TOKEN.finditer(template):
        if match.start() != pos:
            break
        pos = match.end()
        tok = match.group()
        piece: str | _Field
        if tok == "[":
            if group is not None:
                raise ConfigError(f"template {template!r}: optional segments cannot nest")
            group = []
            continue
        if tok == "]":
            if group is None:
                raise ConfigError(f"template {template!r}: ']' without '[' (write ']]')")
            nodes.append(_Optional(tuple(group)))
            group = None
            continue
        if tok in ("[[", "]]", "{{", "}}"):
            piece = tok[0]
        elif tok.startswith("{"):
            piece = _Field(tok[1:-1].strip())
        else:
            piece = tok
        (group if group is not None else nodes).append(piece)
    if pos != len(template):
        raise ConfigError(
            f"template {template!r}: cannot read it at position {pos} "
            "(fields are {name}, optional parts [ ... ], literal braces {{ }})"
        )
    if group is not None:
        raise ConfigError(f"template {template!r}: '[' is never closed")
    return nodes


def _as_text(column: pd.Series) -> pd.Series:
    """Cell values as clean strings; '' for missing values."""
    if pd.api.types.is_bool_dtype(column):
        return column.astype(object).where(column.notna(), "").astype(str)
    if pd.api.types.is_numeric_dtype(column):
        num = pd.to_numeric(column, errors="coerce").astype("Float64")
        whole = num.notna() & (num == num.round())
        text = num.astype(object).where(num.notna(), None)
        out = pd.Series([""] * len(column), index=column.index, dtype=object)
        out[whole.fillna(False)] = num[whole.fillna(False)].astype("Int64").astype(str)
        rest = num.notna() & ~whole.fillna(False)
        out[rest] = text[rest].map(lambda v: f"{v:g}")
        return out
    return column.map(_cell_text).astype(object)


def _cell_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, list | tuple | set | np.ndarray):
        parts = [str(v).strip() for v in value if v is not None and str(v).strip()]
        return ", ".join(parts)
    text = str(value).strip()
    if "|" in text:
        return ", ".join(p.strip() for p in text.split("|") if p.strip())
    return "" if text.lower() in ("nan", "none", "<na>", "null") else text


def _tidy(text: pd.Series) -> pd.Series:
    """Whitespace and separators left over from missing fields."""
    out = text.str.replace(r"\(\s*\)", "", regex=True)
    out = out.str.replace(r"\s+", " ", regex=True)
    out = out.str.replace(r"\s+([.,;:!?])", r"\1", regex=True)
    out = out.str.replace(r"([.,;:])(?:\s*[.,;:])+", r"\1", regex=True)
    out = out.str.replace(r"^[\s.,;:|-]+", "", regex=True)
    out = out.str.replace(r"[\s,;:|-]+$", "", regex=True)
    return out.where(out.str.contains(r"\w", regex=True), "").str.strip()
