"""Export a sentence-transformers model to ONNX once, and quantise it to int8.

The transformer is exported with torch's ONNX exporter; tokenisation (the model's own
fast tokenizer) and pooling run outside the graph, so any BERT-like model with mean,
CLS or max pooling works. Files are cached per model identity and never re-exported:

  <cache_dir>/onnx/<identity>/model.onnx (+ model.onnx.data)  fp32 graph
                             /model.int8.onnx                 int8-weight graph
                             /tokenizer.json, encoder.json    tokenizer, pooling, limits
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import shutil
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lmrec.encoders.base import ModelSource
from lmrec.encoders.config import EncoderConfig
from lmrec.errors import UnsupportedError

EXPORT_FORMAT = 1
SUPPORTED_POOLING = ("mean", "cls", "max")


def export_dir(config: EncoderConfig, source: ModelSource) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", source.identity)
    return config.resolved_cache_dir() / "onnx" / slug


def ensure_exported(config: EncoderConfig, source: ModelSource, int8: bool) -> Path:
    """The export directory for this model, exporting (and quantising) on first use.

    Work happens in temporary names that are renamed into place, so two processes
    exporting at once both end with complete files.
    """
    target = export_dir(config, source)
    if not (target / "encoder.json").exists():
        tmp = target.parent / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir(parents=True)
        try:
            export_fp32(source, tmp)
            # If another process finished first, its export is as good as ours.
            with contextlib.suppress(OSError):
                os.rename(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    int8_path = target / "model.int8.onnx"
    if int8 and not int8_path.exists():
        part = target / f"model.int8.{uuid.uuid4().hex}.part"
        try:
            quantize_int8(target / "model.onnx", part)
            os.replace(part, int8_path)
        finally:
            part.unlink(missing_ok=True)
    return target


def export_fp32(source: ModelSource, out: Path) -> None:
    """Write model.onnx, tokenizer.json and encoder.json for `source` into `out`."""
    import torch

    from lmrec.encoders.sentence import load_sentence_transformer

    st = load_sentence_transformer(source, device="cpu")
    transformer, pooling_mode, normalize = _split_modules(st, source)
    tokenizer = transformer.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise UnsupportedError(
            f"text model '{source.location}' has no fast tokenizer, which the ONNX backend "
            "needs; use backend='torch'"
        )
    names = [
        n
        for n in ("input_ids", "attention_mask", "token_type_ids")
        if n in tokenizer.model_input_names
    ]
    sample = tokenizer(
        ["a short text", "a somewhat longer text to embed"], padding=True, return_tensors="pt"
    )
    args = tuple(sample[n] for n in names)
    dims = {0: torch.export.Dim("batch"), 1: torch.export.Dim("sequence")}
    wrapper = _hidden_states_module(transformer.auto_model.eval(), names)
    # The exporter reports progress on stdout and logs/warns about tracing details.
    with _quiet_export():
        torch.onnx.export(
            wrapper,
            args,
            str(out / "model.onnx"),
            input_names=names,
            output_names=["token_embeddings"],
            dynamic_shapes=(tuple(dims for _ in names),),  # one entry: the *inputs tuple
            dynamo=True,
        )
    tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
    meta = {
        "format": EXPORT_FORMAT,
        "identity": source.identity,
        "input_names": names,
        "pooling": pooling_mode,
        "normalize": normalize,
        "max_seq_length": int(transformer.max_seq_length),
        "dim": int(st.get_embedding_dimension()),
        "pad_token": tokenizer.pad_token,
        "pad_id": int(tokenizer.pad_token_id),
    }
    (out / "encoder.json").write_text(json.dumps(meta, indent=2))


def quantize_int8(src: Path, dst: Path) -> None:
    """Dynamic int8 quantisation of the MatMul weights (per output channel).

    The feed-forward down-projections (weights taller than wide: intermediate -> hidden)
    stay in fp32: their inputs come out of GELU with outliers that a per-tensor int8
    activation scale cannot hold, and quantising them drops the cosine agreement with
    the fp32 model from ~0.997 to ~0.993 (min 0.993 -> 0.984 on MovieLens titles).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(src), load_external_data=False)
    shapes = {init.name: tuple(init.dims) for init in model.graph.initializer}
    keep_fp32 = [
        node.name
        for node in model.graph.node
        if node.op_type == "MatMul"
        and any(len(s) == 2 and s[0] > s[1] for s in (shapes.get(i, ()) for i in node.input))
    ]
    # quantize_dynamic writes nothing but dst (its scratch files go to its own temporary
    # directory; tests check the working directory stays clean). No chdir here: the
    # working directory is process-wide, and a server may export while serving.
    with _quiet_root_logger():
        quantize_dynamic(
            str(src),
            str(dst),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=keep_fp32,
        )


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """The quantiser logs advice through the root logger, which would otherwise install a
    stderr handler in the user's process; a temporary null handler and filter keep the
    user's logging configuration exactly as it was."""
    root = logging.getLogger()
    null = logging.NullHandler()
    drop = logging.Filter("\0never-matches")
    root.addHandler(null)
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)
        root.removeHandler(null)


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        onnx_log.setLevel(level)


def _split_modules(st: Any, source: ModelSource) -> tuple[Any, str, bool]:
    """(transformer module, pooling mode, whether output is normalised), or refuse."""
    kinds = [type(m).__name__ for m in st]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise UnsupportedError(
            f"text model '{source.location}' has modules {kinds}; the ONNX backend handles "
            "Transformer + Pooling (+ Normalize) only: use backend='torch'"
        )
    mode = str(st[1].pooling_mode)
    if mode not in SUPPORTED_POOLING:
        raise UnsupportedError(
            f"text model '{source.location}' pools with '{mode}'; the ONNX backend supports "
            f"{', '.join(SUPPORTED_POOLING)}: use backend='torch'"
        )
    return st[0], mode, len(kinds) == 3


def _hidden_states_module(model: Any, names: list[str]) -> Any:
    import torch

    class HiddenStates(torch.nn.Module):
        """Calls the transformer by keyword and returns its token embeddings only."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

    return HiddenStates()
