"""`lmrec models list|show|register|promote|rollback`: the model registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from lmrec.store.default_model import resolve_default, set_default
from lmrec.store.registry import ModelRegistry

if TYPE_CHECKING:
    from lmrec.experiment.promotion import Check

models_app = typer.Typer(help="Versioned models the service serves.", no_args_is_help=True)
console = Console()
RegistryOpt = Annotated[
    Path | None,
    typer.Option("--registry", help="registry directory (default $LMREC_HOME/registry)"),
]


def _registry(path: Path | None) -> ModelRegistry:
    return ModelRegistry(path) if path is not None else ModelRegistry.default()


@models_app.command("list")
def list_cmd(
    registry: RegistryOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Every registered version and which one is live."""
    reg = _registry(registry)
    versions = reg.list()
    if as_json:
        console.print_json(json.dumps([v.to_dict() for v in versions]))
        return
    if not versions:
        console.print(f"no models registered in {reg.root}")
        return
    default = resolve_default(reg)
    table = Table(title=f"{reg.root} (default model: {default.name}, {default.source})")
    for col in ("name", "version", "model", "live", "registered", "metrics", "privacy"):
        table.add_column(col)
    for v in versions:
        metrics = ", ".join(
            f"{k}={val:.4g}" if isinstance(val, float) else f"{k}={val}"
            for k, val in list(v.metrics.items())[:4]
        )
        private = (
            f"epsilon {v.privacy['epsilon']:.2f} per {v.privacy['unit']}" if v.privacy else "none"
        )
        table.add_row(
            v.name, v.version, v.model, "*" if v.live else "", v.registered, metrics, private
        )
    console.print(table)


@models_app.command("show")
def show_cmd(
    name: Annotated[str, typer.Argument(help="registered name")],
    version: Annotated[str | None, typer.Argument(help="version (default: the live one)")] = None,
    registry: RegistryOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """One version: model, configuration, training data, metrics and its privacy
    guarantee (the epsilon and delta spent, the accountant, the unit of privacy)."""
    from lmrec.core.privacy import spent_line
    from lmrec.errors import ConfigError
    from lmrec.models.artifacts import read_meta

    reg = _registry(registry)
    chosen = version or reg.live_version(name)
    if chosen is None:
        raise ConfigError(f"'{name}' has no live version: name one (`lmrec models list`)")
    info = reg.info(name, chosen)
    meta = read_meta(info.path)
    if as_json:
        console.print_json(json.dumps({**info.to_dict(), "meta": meta}))
        return
    lines = [
        f"{name} version {chosen}{' (live)' if info.live else ''}: {info.model}",
        f"registered: {info.registered or '-'}; trained on: {meta.get('data') or '-'} "
        f"({meta.get('n_users', '?')} users, {meta.get('n_items', '?')} items)",
        f"config: {json.dumps(meta.get('config', {}), sort_keys=True)}",
        "metrics: " + (", ".join(f"{k}={v}" for k, v in info.metrics.items()) or "-"),
        f"privacy: {spent_line(info.privacy)}",
    ]
    if info.privacy:
        lines.append(f"guarantee: {info.privacy.get('guarantee', '')}")
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True, markup=False)


@models_app.command("register")
def register_cmd(
    model_dir: Annotated[Path, typer.Argument(help="directory written by `lmrec train`")],
    name: Annotated[str, typer.Argument(help="name to register under")],
    registry: RegistryOpt = None,
    promote: Annotated[
        bool | None,
        typer.Option("--promote/--no-promote", help="make it live (default: if none is)"),
    ] = None,
) -> None:
    """Add a trained model directory as the next version of NAME."""
    reg = _registry(registry)
    version = reg.register(model_dir, name, promote=promote)
    live = reg.live_version(name)
    console.print(f"registered {name} version {version}" + (" (live)" if live == version else ""))


@models_app.command("promote")
def promote_cmd(
    name: Annotated[str, typer.Argument()],
    version: Annotated[str, typer.Argument()],
    registry: RegistryOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="promote even if a check against the live one fails")
    ] = False,
    gate: Annotated[
        str,
        typer.Option(
            help="'ope': also require the candidate's off-policy click rate (lower 95% end) "
            "on the live version's recent exploration log to beat the live version's"
        ),
    ] = "none",
    db: Annotated[
        str | None,
        typer.Option(metavar="URL", help="event store for --gate ope (default: $LMREC_HOME)"),
    ] = None,
    gate_days: Annotated[
        float, typer.Option(min=0.01, help="--gate ope reads the log of the last DAYS days")
    ] = 14.0,
) -> None:
    """Check VERSION of NAME against the live version, then make it live (a running
    server follows within seconds). Checks: catalogue and user coverage, usable scores,
    NDCG@10 on held-out interactions neither was trained on; with --gate ope, the value
    of each version's lists estimated from the served log."""
    from lmrec.errors import ConfigError
    from lmrec.experiment.promotion import PromotionRefused, check_candidate

    if gate not in ("none", "ope"):
        raise ConfigError(f"--gate must be 'none' or 'ope', not {gate!r}")
    reg = _registry(registry)
    report = check_candidate(reg, name, version)
    report.require_loads()  # files that do not load: one line, exit 2, even with --force
    if gate == "ope" and report.passed:
        report.checks.append(_ope_check(reg, name, version, db, gate_days))
    for line in report.lines():
        console.print(line, highlight=False, soft_wrap=True)
    if not report.passed and not force:
        raise PromotionRefused(report)
    previous = reg.promote(name, version)
    forced = " (forced past a failed check)" if not report.passed else ""
    console.print(f"{name}: version {version} is live (was {previous or 'none'}){forced}")


def _ope_check(reg: ModelRegistry, name: str, version: str, db: str | None, days: float) -> Check:
    from lmrec.core.paths import lmrec_home
    from lmrec.events.store import EventStore
    from lmrec.experiment.ope_gate import ope_check

    store = EventStore(db or f"sqlite:///{lmrec_home() / 'events.db'}")
    try:
        frame = store.served_with_rewards(name, reward_types=("click",))
    finally:
        store.close()
    return ope_check(reg, name, version, frame, days)


@models_app.command("default")
def default_cmd(
    name: Annotated[
        str | None, typer.Argument(help="model name (omit to show the current default)")
    ] = None,
    registry: RegistryOpt = None,
) -> None:
    """Choose the model answering requests that name none (servers follow within seconds;
    `lmrec serve --default-model` overrides it for one server)."""
    reg = _registry(registry)
    if name is None:
        default = resolve_default(reg)
        console.print(f"default model: {default.name or 'none'} ({default.source})")
        return
    previous = set_default(reg, name)
    console.print(f"default model: {name} (was {previous or 'not chosen'})")


@models_app.command("rollback")
def rollback_cmd(name: Annotated[str, typer.Argument()], registry: RegistryOpt = None) -> None:
    """Make the previously live version of NAME live again."""
    version = _registry(registry).rollback(name)
    console.print(f"{name}: rolled back to version {version}")


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
