"""Fine-tune the text encoder on behaviour (`lmrec encoders tune`).

A frozen sentence encoder places items by what their text says; people who watched one
film and then another say which texts belong together for recommendation. Training pairs
come from the training part of a split only: each item with the one its user took next
(and, with `history` > 1, the titles of a user's last few items with the next one).
Sentence-transformers' own trainer and its in-batch-negatives loss
(MultipleNegativesRankingLoss) do the work; the
result is a sentence-transformers directory that every text option accepts
(`text.encoder.model=DIR`) and that gets its own identity in the embedding cache (the
directory's content hash, see `encoders.base.resolve_model`).

On a CPU the whole encoder is too slow for a 20-minute budget, so by default only its top
layers train (`layers`), pairs are subsampled (`pairs`) and texts are cut short
(`max_length`): film titles with year and genres fit in 64 tokens.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmrec.core.threads import torch_threads
from lmrec.data.dataset import Dataset
from lmrec.encoders.base import resolve_model
from lmrec.encoders.config import EncoderConfig
from lmrec.encoders.text import ItemTextTemplate, default_item_template
from lmrec.errors import ConfigError, DataError

#: written beside the model: how it was tuned, so a directory says where it came from
TUNING_FILE = "lmrec_tuning.json"


@dataclass(frozen=True)
class TuneSettings:
    """How much to train. `layers=None` trains the whole encoder (the choice on a GPU)."""

    # Defaults from docs/benchmarks.md: joined-history anchors (history > 1), a higher rate
    # and more pairs collapsed ml-100k's text space (effective rank 143 -> 27)
    pairs: int = 3_000
    history: int = 1
    epochs: int = 1
    batch_size: int = 64
    learning_rate: float = 2e-5
    layers: int | None = 2
    max_length: int = 64
    seed: int = 42
    threads: int | None = None
    device: str | None = None

    def check(self) -> None:
        for name in ("pairs", "history", "epochs", "batch_size", "max_length"):
            if getattr(self, name) < 1:
                raise ConfigError(f"encoder tuning: {name} must be at least 1")
        if self.batch_size < 2:
            raise ConfigError("encoder tuning: batch_size must be at least 2 (in-batch negatives)")
        if self.layers is not None and self.layers < 1:
            raise ConfigError("encoder tuning: layers must be at least 1, or all")
        if not 0 < self.learning_rate < 1:
            raise ConfigError("encoder tuning: learning_rate must be in (0, 1)")


@dataclass(frozen=True)
class TuneResult:
    out_dir: Path
    pairs: int
    trained_parameters: int
    total_parameters: int
    seconds: float
    final_loss: float | None


def item_texts_for(train: Dataset, template: str | None = None) -> list[str]:
    """One text per item index, as the text-reading models render them."""
    if train.items is None or train.items.empty:
        raise DataError(
            "tuning the text encoder needs item text: pass a catalogue with --items "
            "(or data that has one, e.g. ml-100k)"
        )
    chosen = ItemTextTemplate(template) if template else default_item_template(train.items)
    return chosen.render(train.items)


def behaviour_pairs(
    train: Dataset, texts: Sequence[str], *, limit: int, history: int, seed: int
) -> tuple[list[str], list[str]]:
    """(anchor, positive) texts from each user's time-ordered items: the previous item with
    the next one, and the last `history` items (titles joined) with the next one. Pairs
    whose texts are empty or equal are dropped; at most `limit`, sampled with `seed`."""
    order = np.lexsort((train.timestamps, train.users_idx))
    users, items = train.users_idx[order], train.items_idx[order]
    same_user = users[1:] == users[:-1]
    nexts = np.flatnonzero(same_user) + 1  # positions with a previous item of the same user
    rng = np.random.default_rng(seed)
    if len(nexts) > limit:  # each position gives one or two pairs; trimmed to `limit` below
        nexts = np.sort(rng.choice(nexts, size=limit, replace=False))
    starts = np.searchsorted(users, users[nexts])  # first position of each pair's user
    anchors: list[str] = []
    positives: list[str] = []
    for pos, start in zip(nexts.tolist(), starts.tolist(), strict=True):
        target = texts[items[pos]]
        if not target:
            continue
        recent = [texts[i] for i in items[max(start, pos - history) : pos] if texts[i]]
        for anchor in {recent[-1] if recent else "", "; ".join(recent)}:
            if anchor and anchor != target:
                anchors.append(anchor)
                positives.append(target)
    if not anchors:
        raise DataError(
            "no training pairs: tuning the text encoder needs users with two or more items "
            "that have text"
        )
    keep = rng.permutation(len(anchors))[:limit]
    return [anchors[i] for i in keep], [positives[i] for i in keep]


def tune_encoder(
    train: Dataset,
    out_dir: str | Path,
    settings: TuneSettings | None = None,
    *,
    encoder: EncoderConfig | None = None,
    template: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> TuneResult:
    """Fine-tune `encoder`'s model on `train`'s behaviour and save it to `out_dir`."""
    settings = settings or TuneSettings()
    settings.check()
    say = progress or (lambda _msg: None)
    source = resolve_model(encoder or EncoderConfig())
    anchors, positives = behaviour_pairs(
        train,
        item_texts_for(train, template),
        limit=settings.pairs,
        history=settings.history,
        seed=settings.seed,
    )
    say(f"{len(anchors):,} training pairs from {train.n_users:,} users")
    started = time.perf_counter()
    with torch_threads(settings.threads):
        model = _load_fresh(source.location, source.local, settings)
        trained, total = _freeze_below_top(model, settings.layers)
        loss = _train(model, anchors, positives, settings, say)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    from lmrec.encoders.sentence import quiet_transformers

    with quiet_transformers():
        model.save(str(out))
    seconds = time.perf_counter() - started
    record = {
        "base_model": source.identity,
        "data": train.name,
        "pairs": len(anchors),
        "trained_parameters": trained,
        "total_parameters": total,
        "seconds": round(seconds, 1),
        "final_loss": loss,
        "settings": asdict(settings),
    }
    (out / TUNING_FILE).write_text(json.dumps(record, indent=2) + "\n")
    return TuneResult(out, len(anchors), trained, total, seconds, loss)


def _load_fresh(location: str, local: bool, settings: TuneSettings) -> Any:
    """A private copy (the shared, cached encoder must not change under other users)."""
    from sentence_transformers import SentenceTransformer

    from lmrec.encoders.sentence import quiet_transformers

    with quiet_transformers():
        model = SentenceTransformer(location, device=settings.device, local_files_only=local)
    model.max_seq_length = settings.max_length
    model.model_card_data.generate_widget_examples = False  # it draws a progress bar
    return model


def _freeze_below_top(model: Any, layers: int | None) -> tuple[int, int]:
    """Only the top `layers` transformer layers train (all when None); returns the numbers
    of trained and of all parameters."""
    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    if layers is None:
        return total, total
    backbone = model[0].auto_model
    stack = getattr(getattr(backbone, "encoder", None), "layer", None)
    if stack is None:
        raise ConfigError(
            "this text model is not a BERT-style encoder: train all of it (layers=all)"
        )
    if layers > len(stack):
        raise ConfigError(f"encoder tuning: layers must be 1..{len(stack)} or all (got {layers})")
    for p in params:
        p.requires_grad_(False)
    for layer in stack[len(stack) - layers :]:
        for p in layer.parameters():
            p.requires_grad_(True)
    return sum(p.numel() for p in params if p.requires_grad), total


def _train(
    model: Any,
    anchors: list[str],
    positives: list[str],
    settings: TuneSettings,
    say: Callable[[str], None],
) -> float | None:
    import tempfile

    from datasets import Dataset as PairTable
    from sentence_transformers.sentence_transformer import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers
    from transformers import PrinterCallback, TrainerCallback

    class _Report(TrainerCallback):
        last_loss: float | None = None

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if logs and "loss" in logs:
                self.last_loss = float(logs["loss"])
                say(f"step {state.global_step}/{state.max_steps}: loss {self.last_loss:.4f}")

    report = _Report()
    steps = max(1, len(anchors) // settings.batch_size)
    with tempfile.TemporaryDirectory(prefix="lmrec-encoder-tune-") as scratch:
        args = SentenceTransformerTrainingArguments(
            output_dir=scratch,
            num_train_epochs=settings.epochs,
            per_device_train_batch_size=settings.batch_size,
            learning_rate=settings.learning_rate,
            warmup_steps=0.1,  # a float is a share of the steps
            seed=settings.seed,
            data_seed=settings.seed,
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            save_strategy="no",
            report_to="none",
            logging_steps=max(1, steps // 10),
            disable_tqdm=True,
            use_cpu=settings.device == "cpu" or (settings.device is None and not _cuda()),
            dataloader_num_workers=0,
        )
        trainer = SentenceTransformerTrainer(
            model=model,
            args=args,
            train_dataset=PairTable.from_dict({"anchor": anchors, "positive": positives}),
            loss=MultipleNegativesRankingLoss(model),
            callbacks=[report],
        )
        trainer.remove_callback(PrinterCallback)  # progress goes through `say`, not stdout
        trainer.train()
    return report.last_loss


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())
