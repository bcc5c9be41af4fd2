"""How to run a fit or serve a model: device, threads, progress, checkpoints.

These are run settings, not hyper-parameters: they change where and how fast a model
trains, never what it learns (up to floating point), so they are never saved with the
model. A model trained on a GPU loads and serves on a CPU-only machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from lmrec.errors import ConfigError

#: run settings that may be given with config values (older lmrec versions kept the
#: first six in model configs; they are read as run settings now)
RUN_KEYS = (
    "device", "threads", "progress", "checkpoint_dir", "resume", "num_threads", "text_backend",
)  # fmt: skip
TEXT_BACKENDS = ("torch", "onnx", "onnx-int8")


@dataclass(frozen=True)
class FitOptions:
    """device: "cpu", "cuda", "cuda:1", "mps" or "auto"; None reads $LMREC_DEVICE, then
        chooses by availability.
    threads: CPU threads for training and scoring (None: the library's default).
    progress: report each epoch (loss, validation metric, time): to `report` when given
        (the CLI shows it on its status line or as log lines), else as a progress bar.
    checkpoint_dir: keep the training state there after every epoch.
    resume: continue from the checkpoint in checkpoint_dir when there is one.
    text_backend: run the model's text encoder on "torch", "onnx" or "onnx-int8" instead
        of the backend it was configured with (the same weights: int8 embeddings agree
        with torch's at cosine ~0.997 and load without torch, e.g. for `lmrec search`).
    """

    device: str | None = None
    threads: int | None = None
    progress: bool = False
    checkpoint_dir: Path | None = None
    resume: bool = False
    text_backend: str | None = None
    report: Callable[[str], None] | None = field(default=None, compare=False)
    #: called after every epoch of a torch model with (epoch, validation metric); it may
    #: raise to stop training (a tuner prunes an unpromising trial this way)
    on_epoch: Callable[[int, float | None], None] | None = field(default=None, compare=False)
    #: set by the distributed trainer in each of its worker processes: the
    #: `lmrec.training.replicas.Replicas` this torch fit is one of (typed loosely here
    #: because core sits below training and does not import torch)
    replicas: Any = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.threads is not None and (isinstance(self.threads, bool) or self.threads < 1):
            raise ConfigError(f"threads must be a positive number (got {self.threads!r})")
        if self.checkpoint_dir is not None and not isinstance(self.checkpoint_dir, Path):
            object.__setattr__(self, "checkpoint_dir", Path(self.checkpoint_dir))
        if self.text_backend is not None and self.text_backend not in TEXT_BACKENDS:
            raise ConfigError(
                f"text_backend must be one of {', '.join(TEXT_BACKENDS)} "
                f"(got {self.text_backend!r})"
            )
        if self.resume and self.checkpoint_dir is None:
            raise ConfigError("resume needs a checkpoint directory (checkpoint_dir)")

    def updated(self, **values: Any) -> FitOptions:
        """A copy with the given (non-None) values replaced."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})

    def under(self, outer: FitOptions) -> FitOptions:
        """These options where they were set, `outer`'s elsewhere (a fusion member's own
        threads win over the fusion's)."""
        default = FitOptions()
        mine = {f.name: getattr(self, f.name) for f in fields(self)}
        return replace(outer, **{k: v for k, v in mine.items() if v != getattr(default, k)})


def split_run_settings(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(hyper-parameters, run settings) from one dict of config values; `num_threads`
    (an older name used by the implicit models) becomes `threads`."""
    hyper = {k: v for k, v in values.items() if k not in RUN_KEYS}
    run = {k: v for k, v in values.items() if k in RUN_KEYS and v is not None}
    threads = run.pop("num_threads", None)
    if threads:  # 0 meant "all cores": the default
        run.setdefault("threads", threads)
    known = {f.name for f in fields(FitOptions)}
    return hyper, {k: v for k, v in run.items() if k in known}
