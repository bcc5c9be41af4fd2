"""Compressed neural models: size, parameters, latency and NDCG@10 of the torch model and
its ONNX exports (fp32, int8, fp16), all on one CPU thread.

    python benchmarks/bench_compress.py                 # trains runs/bench-compress/sasrec first
    python benchmarks/bench_compress.py --model hybrid  # trains runs/bench-compress/hybrid
    python benchmarks/bench_compress.py --model ncf     # trains runs/bench-compress/ncf
    python benchmarks/bench_compress.py --model-dir runs/sasrec-loo
    python benchmarks/bench_compress.py --model-dir runs/sasrec-loo --variants torch,onnx-int8
    python benchmarks/bench_compress.py --model-dir runs/sasrec-loo \
        --also student=runs/student32 --also small=runs/plain32   # + their int8 exports

MODEL_DIR is a model trained with `lmrec train MODEL --data ml-100k ...` (or any other
data set: the split is rebuilt from the model's saved metadata, e.g. ml-1m; without
--model-dir: one is trained on ml-100k, --epochs, one thread: SASRec with leave-one-out,
the hybrid and NCF with their default settings on the 8:1:1 ratio split, seed 42);
the test is the one `lmrec evaluate` runs on it (full ranking, training and validation
items excluded; for SASRec the test-time history is train + valid). Exports are written
next to it (MODEL_DIR-onnx-none, -onnx-int8, -onnx-fp16) by the library call behind
`lmrec export`.

Latency: SASRec: score_sequences over test-time histories of randomly drawn users; the
hybrid and NCF: score_users of randomly drawn known users (what their graphs take);
batch 1 (each call one user) and batch 256, after a warm-up; p50 and p99 over the
calls. Size: the learned weights scoring reads, on disk (the torch model's float32
parameters, for the hybrid its user and item factors; the exports' model.onnx), not the
history and id maps both carry.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

VARIANTS = ("torch", "onnx-none", "onnx-int8", "onnx-fp16")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(_TRAIN), default="sasrec")
    parser.add_argument("--model-dir", type=Path, help="default: runs/bench-compress/MODEL")
    parser.add_argument("--epochs", type=int, default=30, help="when MODEL_DIR is trained here")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="another model on the same split (a distilled student), as torch and int8",
    )
    parser.add_argument("--calls-1", type=int, default=300, help="batch-1 calls timed")
    parser.add_argument("--calls-256", type=int, default=20, help="batch-256 calls timed")
    args = parser.parse_args()

    from lmrec.cli.common import split_data
    from lmrec.core.options import FitOptions
    from lmrec.data.loading import load_dataset
    from lmrec.models.artifacts import load_model, read_meta

    args.model_dir = args.model_dir or Path("runs/bench-compress") / args.model
    if not (args.model_dir / "model.json").exists():
        _train(args.model, args.model_dir, args.epochs)
    meta = read_meta(args.model_dir)
    split = split_data(load_dataset(meta["data"]), meta["protocol"], meta["split_seed"])
    whole = split.train.concat(split.valid)
    print(f"# {args.model_dir}: {meta['model']} {json.dumps(meta['config'])}")
    one_thread = FitOptions(device="cpu", threads=1)
    runs = [(v, args.model_dir, v) for v in args.variants.split(",")]
    for also in args.also:
        label, _, path = also.partition("=")
        runs += [(label, Path(path), "torch"), (f"{label}-int8", Path(path), "onnx-int8")]
    rows = []
    for label, source_dir, variant in runs:
        if variant == "torch":
            model_dir = source_dir
        else:
            model_dir = _exported(source_dir, variant.removeprefix("onnx-"))
        model = load_model(model_dir, one_thread)
        row = {"variant": label, **_size(model, model_dir)}
        # sequence models read the whole known history at test time, as `lmrec evaluate`
        history = whole if model.history_at_test_time else None
        row.update(_latency(model, history, args.calls_1, args.calls_256))
        row["ndcg@10"] = round(_ndcg(model, split, history), 4)
        if variant != "torch":
            row["parity"] = model.parity_  # type: ignore[attr-defined]
        rows.append(row)
        print(json.dumps(row), flush=True)
    base = rows[0]
    for row in rows[1:]:
        print(
            f"# {row['variant']}: size {row['bytes'] / base['bytes']:.0%} of {base['variant']}, "
            f"params {row['params'] / base['params']:.0%}, "
            f"NDCG@10 {row['ndcg@10'] / base['ndcg@10']:.1%}, p50 batch 1 "
            f"{base['p50_ms_1'] / row['p50_ms_1']:.2f}x faster, batch 256 "
            f"{base['p50_ms_256'] / row['p50_ms_256']:.2f}x faster"
        )


#: model -> (split protocol, settings) when the benchmark trains it
_TRAIN: dict[str, tuple[str, dict[str, Any]]] = {
    "sasrec": ("loo", {"hidden": 64, "n_layers": 2, "dropout": 0.2}),
    "hybrid": ("ratio", {}),
    "ncf": ("ratio", {}),
}


def _train(name: str, out: Path, epochs: int) -> None:
    """The model on ml-100k, saved as `lmrec train` saves it."""
    from lmrec.data.loading import load_dataset
    from lmrec.data.splitters import make_split
    from lmrec.models.registry import create_model

    protocol, settings = _TRAIN[name]
    split = make_split(load_dataset("ml-100k"), protocol, seed=42)
    started = time.perf_counter()
    model = create_model(name, {**settings, "epochs": epochs, "threads": 1})
    model.fit(split.train, split.valid)
    print(f"# trained {out} in {time.perf_counter() - started:.0f}s", flush=True)
    meta = {"data": "ml-100k", "protocol": protocol, "split_seed": 42}
    model.save(out, {**meta, "train_fingerprint": split.train.fingerprint()})


def _exported(model_dir: Path, quantize: str) -> Path:
    from lmrec.models.compressed.export import export_model

    out = model_dir.with_name(f"{model_dir.name}-onnx-{quantize}")
    if not (out / "model.json").exists():
        started = time.perf_counter()
        export_model(model_dir, out, quantize=quantize, threads=1)
        print(f"# exported {out} in {time.perf_counter() - started:.1f}s", flush=True)
    return out


def _size(model: Any, model_dir: Path) -> dict[str, Any]:
    if model.name.startswith("onnx"):
        return {
            "bytes": (model_dir / "model.onnx").stat().st_size,
            "params": model.source_params_,
        }
    if model.name == "hybrid":  # scoring reads the exported factors, not the network
        factors = (model.user_factors_, model.item_factors_)
        return {"bytes": sum(f.nbytes for f in factors), "params": sum(f.size for f in factors)}
    params = sum(p.numel() for p in model.net_.parameters())
    return {"bytes": int(model.weights_.nbytes), "params": params}


def _latency(model: Any, history: Any, calls_1: int, calls_256: int) -> dict[str, float]:
    """p50/p99 milliseconds per scoring call: score_sequences over test-time histories
    (sequence models, `history` given), else score_users of known users."""
    from lmrec.models.sequence.ordered import OrderedHistory

    if history is not None:
        assert isinstance(model, OrderedHistory)
        order = np.lexsort(
            (np.arange(history.n_interactions), history.timestamps, history.users_idx)
        )
        bounds = np.searchsorted(history.users_idx[order], np.arange(history.n_users + 1))
        seqs = np.split(history.items_idx[order], bounds[1:-1])

        def score(users: np.ndarray) -> Any:
            return model.score_sequences([seqs[u] for u in users])
    else:

        def score(users: np.ndarray) -> Any:
            return model.score_users(users)

    rng = np.random.default_rng(0)
    out: dict[str, float] = {}
    for batch, calls in ((1, calls_1), (256, calls_256)):
        picks = [rng.choice(model.n_users, size=batch) for _ in range(calls + 3)]
        times = []
        for i, users in enumerate(picks):
            started = time.perf_counter()
            score(users)
            if i >= 3:  # warm-up calls are not counted
                times.append((time.perf_counter() - started) * 1000)
        out[f"p50_ms_{batch}"] = round(float(np.percentile(times, 50)), 3)
        out[f"p99_ms_{batch}"] = round(float(np.percentile(times, 99)), 3)
    return out


def _ndcg(model: Any, split: Any, history: Any) -> float:
    from lmrec.evaluation.runner import evaluate

    result = evaluate(
        model, split.test, exclude=[split.train, split.valid], ks=(10,), history=history
    )
    return float(result.summary()["ndcg@10"])


if __name__ == "__main__":
    main()
