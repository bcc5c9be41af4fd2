"""`lmrec train`, `lmrec evaluate`, `lmrec recommend`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import typer

from lmrec.cli.common import (
    PROTOCOLS,
    CheckpointOpt,
    DeviceOpt,
    ExperimentOpt,
    ProgressOpt,
    RayAddressOpt,
    ResumeOpt,
    ThreadsOpt,
    TrackingUriOpt,
    TrackOpt,
    console,
    fit_options,
    frame_table,
    print_json,
    progress_messages,
    split_data,
    tracking,
)
from lmrec.cli.data_options import DataArgs, DataOptions, with_data_options
from lmrec.core.settings_files import model_settings
from lmrec.errors import ArtifactError, ConfigError
from lmrec.experiment.tracking import DEFAULT_EXPERIMENT
from lmrec.experiment.tracking_logs import log_training

#: how `recommend --explain` explains a list
ExplainStyle = Literal["template", "text"]


@with_data_options()
def train(
    model: Annotated[str, typer.Argument(help="model name, e.g. ease, itemknn, als")],
    out: Annotated[Path, typer.Option("--out", help="directory to write the model to")],
    data: Annotated[
        str | None, typer.Option("--data", metavar="NAME|PATH", help="dataset name or path")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="KEY=VALUE", help="a model setting, repeatable"),
    ] = None,
    protocol: Annotated[
        str,
        typer.Option(
            metavar="NAME",
            help=f"split that holds out test data: {', '.join(PROTOCOLS)}; or none to fit "
            "on all data (for serving)",
        ),
    ] = "ratio",
    seed: Annotated[int, typer.Option(help="split seed")] = 42,
    register: Annotated[
        str | None, typer.Option(help="also add the model to the registry under this name")
    ] = None,
    from_store: Annotated[
        str | None,
        typer.Option(
            "--from-store",
            help="add the service's stored events (URL) to the live model's training data",
        ),
    ] = None,
    base: Annotated[
        str | None,
        typer.Option(help="with --from-store: merge with this registered model's data"),
    ] = None,
    base_data: Annotated[
        str | None, typer.Option("--base-data", help="with --from-store: merge with this data")
    ] = None,
    events_only: Annotated[
        bool, typer.Option("--events-only", help="with --from-store: the stored events alone")
    ] = False,
    registry: Annotated[
        Path | None,
        typer.Option(help="model registry for --register/--base (default $LMREC_HOME/registry)"),
    ] = None,
    device: DeviceOpt = None,
    threads: ThreadsOpt = None,
    progress: ProgressOpt = True,
    checkpoint_dir: CheckpointOpt = None,
    resume: ResumeOpt = False,
    track: TrackOpt = None,
    tracking_uri: TrackingUriOpt = None,
    experiment: ExperimentOpt = DEFAULT_EXPERIMENT,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            metavar="N",
            min=1,
            help="train a torch model data-parallel on N Ray Train workers (batch_size is "
            "per worker)",
        ),
    ] = None,
    ray_address: RayAddressOpt = None,
    ray_storage: Annotated[
        str | None,
        typer.Option(
            "--ray-storage",
            metavar="PATH|URI",
            help="with --workers on a cluster: where checkpoints go, seen by every node",
        ),
    ] = None,
    *,
    data_args: DataArgs,
) -> None:
    """Fit a model and save it to a directory.

    By default the model is fit on the training part of the split, so that `lmrec evaluate`
    can test it honestly (and promotion can compare it with the live version on the
    held-out part); `--protocol none` fits on all data.

    --from-store URL retrains with the events the service received: they are merged with
    the data the live version of --register NAME (or --base NAME) was trained on.
    """
    from lmrec.cli.retrain import data_source, store_training_data
    from lmrec.experiment.promotion import write_holdout
    from lmrec.models.registry import create_model
    from lmrec.store.registry import ModelRegistry

    opts = data_args.resolve()
    if workers is None and (ray_address or ray_storage):
        raise ConfigError("--ray-address and --ray-storage go with --workers N")
    if (data is None and opts.path is None) == (from_store is None):
        raise ConfigError("give exactly one of --data (or path in [data]) or --from-store")
    if from_store is None and (base or base_data or events_only):
        raise ConfigError("--base, --base-data and --events-only go with --from-store URL")
    if protocol != "none" and protocol not in PROTOCOLS:
        raise ConfigError(
            f"unknown protocol '{protocol}' (choose from {', '.join(PROTOCOLS)}, or none)"
        )
    reg = ModelRegistry(registry) if registry is not None else ModelRegistry.default()
    if from_store is not None:
        dataset, source = store_training_data(
            from_store,
            reg,
            opts,
            base=base or register,
            base_data=base_data,
            events_only=events_only,
        )
    else:
        dataset = opts.load(data)
        source = {"data": data_source(opts.source(data)), "data_options": opts.to_json()}
    rec = create_model(model, model_settings(opts.config, set_))
    test_part = None
    if protocol == "none":
        train_part, valid_part = dataset, None
    else:
        split = split_data(dataset, protocol, seed)
        train_part, valid_part, test_part = split.train, split.valid, split.test
    with tracking(track, tracking_uri, experiment, f"train {model}", "train") as run:
        t0 = time.perf_counter()
        with progress_messages(f"fitting {model}") as say:
            say(f"{train_part.n_interactions:,} interactions")
            options = rec.options.updated(
                device=device, threads=threads, checkpoint_dir=checkpoint_dir
            )
            options = fit_options(
                options.device, options.threads, progress, say, options.checkpoint_dir,
                resume or options.resume,
            )  # fmt: skip
            valid_data = valid_part if valid_part is not None and len(valid_part) else None
            if workers is None:
                rec.fit(train_part, valid_data, options)
            else:
                from lmrec.models.ray_train import fit_on_ray

                say(f"{workers} Ray Train workers")
                rec, ray_run = fit_on_ray(
                    rec,
                    train_part,
                    valid_data,
                    options,
                    workers=workers,
                    address=ray_address,
                    storage=ray_storage,
                )
                say(
                    f"{ray_run.epochs_run} epochs on {ray_run.workers} workers, "
                    f"{ray_run.nodes} Ray nodes"
                )
        fit_s = time.perf_counter() - t0
        meta = {
            **source,
            "protocol": protocol,
            "split_seed": seed,
            "train_fingerprint": train_part.fingerprint(),
            "fit_seconds": round(fit_s, 3),
        }
        rec.save(out, extra=meta)
        if test_part is not None:
            write_holdout(out, test_part)
        console.print(f"saved {model} to {out} (fit {fit_s:.2f}s)")
        if run is not None:
            log_training(run, rec, meta, train_part.n_interactions, out)
    if register:
        version = reg.register(out, register)
        live = reg.live_version(register)
        if live == version:
            console.print(f"registered as {register} version {version} (live)")
        else:
            console.print(
                f"registered as {register} version {version}; version {live} stays live: "
                f"`lmrec models promote {register} {version}` checks it against version "
                f"{live} and puts it live",
                soft_wrap=True,
            )


@with_data_options()
def evaluate_cmd(
    model_dir: Annotated[Path, typer.Argument(help="directory written by `lmrec train`")],
    data: Annotated[
        str | None, typer.Option("--data", help="dataset (default: the one trained on)")
    ] = None,
    k: Annotated[list[int] | None, typer.Option("-k", help="cut-offs, repeatable")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    *,
    data_args: DataArgs,
) -> None:
    """Test a trained model on the held-out part of the split it was trained with (the
    data is read as it was for training; options given here change that)."""
    from lmrec.evaluation.runner import evaluate
    from lmrec.models.artifacts import load_model, read_meta

    meta = read_meta(model_dir)
    if meta.get("from_store") and data is None:
        raise ArtifactError(
            f"{model_dir} was trained with the events of a store, which keeps growing, so its "
            "split cannot be rebuilt; `lmrec models promote` tests it on the held-out part "
            "kept beside it, or give --data to evaluate it on a fixed dataset's split"
        )
    if meta.get("protocol") in (None, "none"):
        raise ArtifactError(
            f"{model_dir} was trained on all data, so any test on it would leak; "
            "train with --protocol ratio|temporal|loo to evaluate"
        )
    # Models trained before data options were recorded were read with dedupe "last".
    saved = meta.get("data_options", {"dedupe": "last"})
    opts = data_args.resolve(base=DataOptions.from_json(saved))
    dataset = opts.load(data or meta["data"])
    split = split_data(dataset, meta["protocol"], meta["split_seed"])
    if split.train.fingerprint() != meta.get("train_fingerprint"):
        raise ArtifactError(
            f"the data differs from what {model_dir} was trained on (fingerprint mismatch); "
            "evaluate with the same --data or retrain"
        )
    model = load_model(model_dir)
    history = split.train.concat(split.valid) if model.history_at_test_time else None
    result = evaluate(
        model, split.test, exclude=[split.train, split.valid], ks=tuple(k or [10]), history=history
    )
    summary = result.summary()
    (Path(model_dir) / "metrics.json").write_text(json.dumps(summary, indent=2))
    if as_json:
        print_json(summary)
    else:
        frame = pd.DataFrame([{"metric": m, "value": v} for m, v in summary.items()])
        console.print(
            frame_table(frame, title=f"{meta['model']} on {split.test.n_interactions} test rows")
        )


def recommend_cmd(
    model_dir: Annotated[Path, typer.Argument(help="directory written by `lmrec train`")],
    user: Annotated[str | None, typer.Option("--user", help="a known user id")] = None,
    history: Annotated[
        str | None, typer.Option(help="comma-separated item ids (a new user's history)")
    ] = None,
    users: Annotated[
        Path | None,
        typer.Option("--users", help="file of user ids (one a line, or a user_id column)"),
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=10_000)] = 10,
    fields: Annotated[
        str | None, typer.Option(help="item fields to add, e.g. title,genres")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="with --users: write .csv/.parquet/.jsonl")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    rerank: Annotated[
        str | None,
        typer.Option(
            "--rerank",
            metavar="SPEC",
            help="re-rank the model's top 100: mmr:LAMBDA (unlike items, by their text) or "
            "calibrated:LAMBDA (the user's genre mix); LAMBDA in [0, 1]",
        ),
    ] = None,
    explain: Annotated[
        ExplainStyle | None,
        typer.Option(
            "--explain",
            help="explain each item: template (similar history items and shared "
            "attributes) or text (the same and one sentence from a small language model; "
            "needs the llm extra)",
        ),
    ] = None,
) -> None:
    """Top-k items for a user id, an ad-hoc history, or every user in a file.

    With --users the lists are printed as CSV (user_id,rank,item_id,score), or written
    to --out; users the model does not know are named on stderr and left out.

    --rerank mmr:0.5 trades relevance for variety (lower LAMBDA: more varied);
    --rerank calibrated:0.3 makes the list's genre mix follow the user's history (higher
    LAMBDA: closer). Scores stay the model's, so a re-ranked list's are not in order.

    --explain template adds why each item is there (the user's most similar items and
    the attributes they share); --explain text adds one generated sentence naming them."""
    from lmrec.core.query import Query
    from lmrec.core.rerank import RerankSpec
    from lmrec.models.artifacts import load_model
    from lmrec.models.batch import with_item_fields
    from lmrec.models.reranking import history_indices, rerank_list, reranker_for

    if users is not None and (user is not None or history):
        raise ConfigError("give --users FILE alone, or --user ID / --history ITEM,ITEM,...")
    if users is None and user is None and not history:
        raise ConfigError("give --user ID, --history ITEM,ITEM,... or --users FILE")
    if out is not None and users is None:
        raise ConfigError("--out writes the lists of --users FILE; add --users")
    if explain is not None and users is not None:
        raise ConfigError("--explain explains one list: give --user ID or --history alone")
    asked = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
    spec = RerankSpec.parse(rerank) if rerank is not None else None  # a typo fails first
    model = load_model(model_dir)
    reranker = reranker_for(model, spec) if spec is not None else None
    if users is not None:
        from lmrec.cli.batch_cmd import recommend_for_file

        recommend_for_file(
            model, users, k, fields=asked, out=out, as_json=as_json, reranker=reranker
        )
        return
    items = [h.strip() for h in history.split(",") if h.strip()] if history else None
    pool = max(k, reranker.pool) if reranker is not None else k
    recs = model.recommend(Query(user_id=user, history=items, k=pool))
    if reranker is not None:
        seen = history_indices(model, user, items or ())
        recs.item_ids, recs.scores = rerank_list(
            model, reranker, recs.item_ids, recs.scores, k, seen
        )
    frame = recs.to_frame()
    if asked:
        frame = with_item_fields(model, frame, asked)
    elif model.items is not None and "title" in model.items:
        titles = model.items.set_index(model.items["item_id"].astype(str))["title"]
        frame["title"] = frame["item_id"].map(titles)
    if explain is not None:
        frame = _with_explanations(model, frame, explain, user, items or [], as_json)
    if as_json:
        print_json(frame.to_dict(orient="records"))
    else:
        shown = f" re-ranked {spec.label}" if spec is not None else ""
        console.print(frame_table(frame, title=f"top {k} for {user or 'history'}{shown}"))


def _with_explanations(
    model: Any,
    frame: pd.DataFrame,
    style: ExplainStyle,
    user: str | None,
    history: list[str],
    full: bool,
) -> pd.DataFrame:
    """The list with a `why` column: the template's explanation (whole with --json, else
    the titles of the similar history items) or, for text, the generated sentence."""
    from lmrec.errors import UnknownIdError
    from lmrec.explain.sentences import explain_in_words, titles_of
    from lmrec.serving.explain import explain_many
    from lmrec.serving.live import build_live

    ids = [str(i) for i in frame["item_id"]]
    live = build_live("local", "local", model, {}, ann_threshold=10**9)
    known_user = user if user is not None and user in model.user_map else None
    try:
        found = explain_many(live, ids, user_id=known_user, history=history)
    except UnknownIdError:
        found = [{"item_id": i, "because_of": [], "shared_attributes": []} for i in ids]
    if style == "text":
        words = explain_in_words(model.items, found, threads=model.options.threads)
        for exp, text in zip(found, words, strict=True):
            exp["text"] = text
    frame = frame.copy()
    if full:
        frame["explanation"] = found
    elif style == "text":
        frame["why"] = [e["text"] for e in found]
    else:
        frame["why"] = [
            ", ".join(titles_of(model.items, [c["item_id"] for c in e["because_of"]]))
            for e in found
        ]
    return frame


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("evaluate")(evaluate_cmd)
    app.command("recommend")(recommend_cmd)
