"""The options of every command that reads data, declared once.

`--columns`, `--items`, `--users`, `--feedback`, `--dedupe`, `--on-bad-lines` and
`--config` (a TOML file whose `[data]` table gives the same settings) are added to a
command by `@with_data_options()`; the command receives them as one `DataArgs`, resolves
them (`data_args.resolve()`, over the TOML table and any base) and loads with
`options.load(data)`, which prints what was read, merged and dropped.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from lmrec.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])

PANEL = "Reading the data"
FEEDBACK = ("auto", "implicit", "explicit")
DEDUPE = ("auto", "sum", "max", "last", "first")
ON_BAD_LINES = ("error", "skip")
#: --columns roles -> ColumnMap keys
ROLES = {
    "user": "user",
    "item": "item",
    "value": "value",
    "time": "timestamp",
    "timestamp": "timestamp",
    "item_key": "item_key",
    "user_key": "user_key",
}
DATA_KEYS = ("path", "columns", "items", "users", "feedback", "dedupe", "on_bad_lines")


@dataclass(frozen=True)
class DataOptions:
    """How to read a dataset; `path` comes from a TOML [data] table only."""

    path: str | None = None
    columns: dict[str, Any] = field(default_factory=dict)
    items: str | None = None
    users: str | None = None
    feedback: str = "auto"
    dedupe: str = "auto"
    on_bad_lines: str = "error"
    config: Path | None = None  # the TOML file, for [model] settings too

    def source(self, data: str | None) -> str:
        source = data or self.path
        if not source:
            raise ConfigError(
                "say which data: a dataset name or a file (--data), or path in a [data] table"
            )
        return source

    def load(self, data: str | None, **extra: Any) -> Any:
        """Load the dataset, printing a one-line summary of what was read, merged and
        dropped (and a warning when much is lost) on stderr."""
        from lmrec.cli.common import err_console
        from lmrec.data import load_dataset

        source = self.source(data)
        with err_console.status(f"loading {source}"):
            ds = load_dataset(
                source,
                columns=self.columns or None,
                items=self.items,
                users=self.users,
                feedback=self.feedback,  # type: ignore[arg-type]
                dedupe=self.dedupe,  # type: ignore[arg-type]
                on_bad_lines=self.on_bad_lines,  # type: ignore[arg-type]
                **extra,
            )
        report_load(ds)
        return ds

    def to_json(self) -> dict[str, Any]:
        """What `lmrec evaluate` needs to read the same data again."""
        out = asdict(self)
        out.pop("config")
        return out

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> DataOptions:
        return cls(**{k: v for k, v in values.items() if k in DATA_KEYS})


def report_load(ds: Any) -> None:
    from lmrec.data.inspect import load_summary, loss_warning

    typer.echo(load_summary(ds), err=True)  # unwrapped: one line, whatever the width
    warning = loss_warning(ds)
    if warning:
        typer.secho(f"warning: {warning}", err=True, fg=typer.colors.YELLOW)


def parse_columns(specs: list[str] | None) -> dict[str, str]:
    """`["user=customer,item=product", "time=when"]` -> ColumnMap keys (a later role wins)."""
    out: dict[str, str] = {}
    for part in ",".join(specs or []).split(","):
        if not part.strip():
            continue
        role, eq, column = (x.strip() for x in part.partition("="))
        if not eq or not column:
            raise ConfigError(f"--columns expects ROLE=COLUMN pairs, got {part.strip()!r}")
        if role not in ROLES:
            raise ConfigError(
                f"--columns: unknown role '{role}' (roles: user, item, value, time, item_key, "
                "user_key)"
            )
        out[ROLES[role]] = column
    return out


def from_cli(
    *,
    config: Path | None = None,
    columns: list[str] | None = None,
    items: Path | None = None,
    users: Path | None = None,
    feedback: str | None = None,
    dedupe: str | None = None,
    on_bad_lines: str | None = None,
    base: DataOptions | None = None,
) -> DataOptions:
    """Command-line values over the TOML [data] table over `base` (defaults, or the
    options a model was trained with)."""
    opts = base or DataOptions()
    if config is not None:
        opts = _from_table(config, opts)
    given: dict[str, Any] = {
        "columns": {**opts.columns, **parse_columns(columns)} if columns else None,
        "items": str(items) if items else None,
        "users": str(users) if users else None,
        "feedback": _choice("--feedback", feedback, FEEDBACK),
        "dedupe": _choice("--dedupe", dedupe, DEDUPE),
        "on_bad_lines": _choice("--on-bad-lines", on_bad_lines, ON_BAD_LINES),
    }
    return replace(opts, config=config, **{k: v for k, v in given.items() if v is not None})


def _from_table(path: Path, base: DataOptions) -> DataOptions:
    from lmrec.core.settings_files import read_data_table

    table = read_data_table(path)
    unknown = sorted(set(table) - set(DATA_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown} in [data] (allowed: {DATA_KEYS})")
    here = path.parent

    def local(value: object, key: str) -> str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: [data] {key} must be a string")
        # relative to the TOML file, so a project's config works from any directory
        return value if Path(value).is_absolute() else str(here / value)

    columns = table.get("columns", {})
    if not isinstance(columns, dict):
        raise ConfigError(f"{path}: [data] columns must be a table, e.g. columns.user = 'who'")
    mapped = {}
    for role, column in columns.items():
        key = ROLES.get(role, role)  # ColumnMap's own keys (sep, names, ...) pass as they are
        mapped[key] = list(column) if isinstance(column, list) else column
    values: dict[str, Any] = {"columns": {**base.columns, **mapped}}
    for key in ("items", "users"):
        if key in table:
            values[key] = local(table[key], key)
    if "path" in table:  # a name such as ml-100k stays a name
        raw = table["path"]
        values["path"] = local(raw, "path") if (here / str(raw)).exists() else str(raw)
    for key, allowed in (("feedback", FEEDBACK), ("dedupe", DEDUPE)):
        if key in table:
            values[key] = _choice(f"[data] {key}", table[key], allowed)
    if "on_bad_lines" in table:
        values["on_bad_lines"] = _choice("[data] on_bad_lines", table["on_bad_lines"], ON_BAD_LINES)
    return replace(base, **values)


def _choice(what: str, value: object, allowed: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if value not in allowed:
        raise ConfigError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")
    return str(value)


# ---- the options, declared once -----------------------------------------------------------
_OPTIONS: dict[str, Any] = {
    "config": Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="TOML file: a \\[data] table (path, columns, items, users, feedback, "
            "dedupe, on_bad_lines) and, for train, a \\[model] table",
            rich_help_panel=PANEL,
        ),
    ],
    "columns": Annotated[
        list[str] | None,
        typer.Option(
            "--columns",
            metavar="ROLE=COL,...",
            help="which column is what (repeatable); roles: user, item, value, time, "
            "item_key (id column of --items), user_key. E.g. "
            "user=customer,time=when",
            rich_help_panel=PANEL,
        ),
    ],
    "items": Annotated[
        Path | None,
        typer.Option(
            "--items",
            metavar="FILE",
            help="catalogue: an id column plus text and attribute columns",
            rich_help_panel=PANEL,
        ),
    ],
    "users": Annotated[
        Path | None,
        typer.Option(
            "--users",
            metavar="FILE",
            help="user table: an id column plus attribute columns",
            rich_help_panel=PANEL,
        ),
    ],
    "feedback": Annotated[
        str | None,
        typer.Option(
            "--feedback",
            metavar="KIND",
            help="auto, implicit or explicit: does the value column hold weights (implicit) "
            "or ratings (explicit)? auto: ratings if named rating, stars, score or value "
            "\\[default: auto]",
            rich_help_panel=PANEL,
        ),
    ],
    "dedupe": Annotated[
        str | None,
        typer.Option(
            "--dedupe",
            metavar="HOW",
            help="auto, sum, max, last or first: how repeated (user, item) rows combine; "
            "auto: last for explicit ratings, sum for implicit \\[default: auto]",
            rich_help_panel=PANEL,
        ),
    ],
    "on_bad_lines": Annotated[
        str | None,
        typer.Option(
            "--on-bad-lines",
            metavar="error|skip",
            help="error: stop at the first bad line; skip: drop and count bad lines "
            "\\[default: error]",
            rich_help_panel=PANEL,
        ),
    ],
}


@dataclass(frozen=True)
class DataArgs:
    """The data options as given on the command line (None: not given)."""

    config: Path | None = None
    columns: list[str] | None = None
    items: Path | None = None
    users: Path | None = None
    feedback: str | None = None
    dedupe: str | None = None
    on_bad_lines: str | None = None

    def resolve(self, base: DataOptions | None = None) -> DataOptions:
        return from_cli(**asdict(self), base=base)


def with_data_options(*names: str) -> Callable[[F], F]:
    """Add the shared data options (all, or only `names`) to a command, which takes a
    `data_args: DataArgs` parameter instead of them."""
    chosen = names or tuple(_OPTIONS)

    def decorate(func: F) -> F:
        sig = inspect.signature(func, eval_str=True)
        own = [p for p in sig.parameters.values() if p.name != "data_args"]
        added = [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=_OPTIONS[name]
            )
            for name in chosen
        ]

        @functools.wraps(func)
        def command(*args: Any, **kwargs: Any) -> Any:
            given = DataArgs(**{name: kwargs.pop(name) for name in chosen})
            return func(*args, data_args=given, **kwargs)

        params = [*own, *added]
        command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command  # type: ignore[return-value]

    return decorate
