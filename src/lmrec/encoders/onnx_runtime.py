"""Text encoder on ONNX Runtime: the fast CPU path (fp32 or int8 weights).

Needs torch only the first time a model is exported; afterwards onnxruntime and the
`tokenizers` library do all the work.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from lmrec.encoders.base import ModelSource, normalize_rows, resolve_model
from lmrec.encoders.config import EncoderConfig
from lmrec.encoders.onnx_export import ensure_exported


class OnnxEncoder:
    """Tokenise with the model's tokenizer, run the exported graph, pool in NumPy."""

    def __init__(self, config: EncoderConfig, source: ModelSource | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.config = config
        self.source = source or resolve_model(config)
        self.int8 = config.backend == "onnx-int8"
        folder = ensure_exported(config, self.source, self.int8)
        self.meta = json.loads((folder / "encoder.json").read_text())
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_padding()  # batches are padded here, after sorting by length
        self._tokenizer.enable_truncation(max_length=int(self.meta["max_seq_length"]))
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if config.threads is not None:
            options.intra_op_num_threads = config.threads
            options.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        wants_gpu = config.device is not None and config.device.startswith("cuda")
        if wants_gpu and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        graph = folder / ("model.int8.onnx" if self.int8 else "model.onnx")
        self._session = ort.InferenceSession(str(graph), options, providers=providers)

    @property
    def identity(self) -> str:
        return f"{self.source.identity}:{'int8' if self.int8 else 'fp32'}"

    @property
    def dim(self) -> int:
        return int(self.meta["dim"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if len(texts) == 0:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        # Similar lengths in one batch keep padding (wasted compute) small.
        order = np.argsort(lengths, kind="stable")
        starts = range(0, len(texts), self.config.batch_size)
        if self.config.show_progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="encoding", unit="batch")
        for start in starts:
            rows = order[start : start + self.config.batch_size]
            out[rows] = self._encode_batch([encodings[i] for i in rows], lengths[rows])
        return normalize_rows(out) if self.meta["normalize"] else out

    def _encode_batch(self, encodings: list, lengths: np.ndarray) -> np.ndarray:
        width = int(lengths.max())
        mask = np.arange(width)[None, :] < lengths[:, None]
        feeds: dict[str, np.ndarray] = {}
        fields = {
            "input_ids": "ids",
            "attention_mask": "attention_mask",
            "token_type_ids": "type_ids",
        }
        for name in self.meta["input_names"]:
            pad = self.meta["pad_id"] if name == "input_ids" else 0
            arr = np.full((len(encodings), width), pad, dtype=np.int64)
            arr[mask] = np.concatenate([getattr(e, fields[name]) for e in encodings])
            feeds[name] = arr
        hidden = self._session.run(None, feeds)[0]
        return pool(hidden, mask, self.meta["pooling"])


def pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """Sentence vectors from token vectors (batch, seq, dim) as sentence-transformers pools."""
    if mode == "cls":
        return hidden[:, 0]
    if mode == "max":
        return np.where(mask[..., None], hidden, -np.inf).max(axis=1)
    weights = mask[..., None].astype(np.float32)
    return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
