"""`lmrec distil`: a smaller sequence model trained on a teacher's soft targets and on
the teacher's own data and split."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from lmrec.cli.common import (
    DeviceOpt,
    ProgressOpt,
    ThreadsOpt,
    console,
    fit_options,
    progress_messages,
    split_data,
)
from lmrec.core.settings_files import model_settings
from lmrec.errors import ArtifactError


def distil(
    teacher_dir: Annotated[Path, typer.Argument(help="a trained sequence model (lmrec train)")],
    out: Annotated[Path, typer.Option("--out", help="directory to write the student to")],
    student: Annotated[str, typer.Option(help="the student's model: sasrec or gru4rec")] = "sasrec",
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="KEY=VALUE", help="a student setting, repeatable"),
    ] = None,
    device: DeviceOpt = None,
    threads: ThreadsOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Train a small student on the data the teacher was trained on (the same split:
    its test part stays unseen) and on the teacher's softened next-item distribution
    (`distil_weight`, `distil_temperature`), e.g.
    `lmrec distil runs/sasrec --student sasrec --set hidden=32 --set n_layers=1`."""
    from lmrec.cli.data_options import DataOptions
    from lmrec.experiment.promotion import write_holdout
    from lmrec.models.artifacts import read_meta
    from lmrec.models.registry import create_model

    meta = read_meta(teacher_dir)
    if meta.get("protocol") in (None, "none") or "data" not in meta:
        raise ArtifactError(
            f"{teacher_dir} records no data split to distil on; train the teacher with "
            "`lmrec train MODEL --data ... --protocol loo|ratio|temporal`"
        )
    opts = DataOptions.from_json(meta.get("data_options", {"dedupe": "last"}))
    split = split_data(opts.load(meta["data"]), meta["protocol"], meta["split_seed"])
    if split.train.fingerprint() != meta.get("train_fingerprint"):
        raise ArtifactError(
            f"the data differs from what {teacher_dir} was trained on (fingerprint "
            "mismatch); distil where the teacher's data is unchanged"
        )
    settings = {**model_settings(None, set_), "teacher": str(teacher_dir.resolve())}
    model = create_model(student, settings)
    started = time.perf_counter()
    with progress_messages(f"distilling {meta['model']} into {student}") as say:
        options = model.options.updated(device=device, threads=threads)
        options = fit_options(options.device, options.threads, progress, say, None, False)
        model.fit(split.train, split.valid if len(split.valid) else None, options)
    fit_s = time.perf_counter() - started
    keep = ("data", "data_options", "protocol", "split_seed", "train_fingerprint")
    extra = {key: meta[key] for key in keep if key in meta}
    model.save(out, {**extra, "fit_seconds": round(fit_s, 3), "distilled_from": str(teacher_dir)})
    write_holdout(out, split.test)
    student_params = int(model.weights_.size)  # type: ignore[attr-defined]
    teacher_params = _params(teacher_dir)
    console.print(
        f"saved {student} to {out} (fit {fit_s:.0f}s): {student_params:,} parameters, "
        f"{student_params / teacher_params:.0%} of the teacher's {teacher_params:,}",
        soft_wrap=True,
    )


def _params(model_dir: Path) -> int:
    """Saved network values of a torch model (its flat `weights_` array)."""
    import numpy as np

    with np.load(model_dir / "params.npz", allow_pickle=False) as npz:
        return int(npz["weights_"].size) if "weights_" in npz.files else 0


def register(app: typer.Typer) -> None:
    app.command("distil")(distil)
