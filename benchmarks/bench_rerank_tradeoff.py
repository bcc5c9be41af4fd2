"""NDCG@10 against intra-list diversity (MMR) and against miscalibration (calibrated
re-ranking) for lambda from 0 to 1, EASE on MovieLens-100k (ratio split, seed 42, test
once, EASE reg fixed at 250: --reg). Prints a table and writes the plot.

    python benchmarks/bench_rerank_tradeoff.py --out docs/rerank_tradeoff.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from lmrec.core.ranking import mask_rows, top_k
from lmrec.core.rerank import DEFAULT_POOL, Reranker, RerankSpec, miscalibration
from lmrec.data import load_dataset
from lmrec.data.splitters import make_split
from lmrec.evaluation import evaluate
from lmrec.experiment.compare import build_reranker
from lmrec.experiment.item_embeddings import item_text_vectors
from lmrec.models.registry import create_model

LAMBDAS = [round(x, 1) for x in np.linspace(0, 1, 11)]


def lists(model, split, rerank: Reranker | None, users: np.ndarray) -> np.ndarray:
    seen = (split.train.binary_csr + split.valid.binary_csr).tocsr()
    scores = np.asarray(model.score_users(users), dtype=np.float32).copy()
    mask_rows(scores, seen[users])
    idx, top = top_k(scores, DEFAULT_POOL if rerank else 10)
    if rerank is None:
        return idx
    return rerank.apply(idx, top, 10, seen[users])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("docs/rerank_tradeoff.png"))
    parser.add_argument("--reg", type=float, default=250.0)
    args = parser.parse_args()
    data = load_dataset("ml-100k")
    split = make_split(data, "ratio", seed=42)
    vectors, why = item_text_vectors(split.train)
    assert vectors is not None, why
    model = create_model("ease", {"reg": args.reg}).fit(split.train)
    users = np.flatnonzero(np.diff(split.test.binary_csr.indptr) > 0)
    seen = (split.train.binary_csr + split.valid.binary_csr).tocsr()
    rows = []
    for method in ("mmr", "calibrated"):
        for lam in LAMBDAS:
            spec = RerankSpec(method, lam)
            reranker = build_reranker(spec, split.train, vectors)
            res = evaluate(
                model, split.test, exclude=[split.train, split.valid], ks=(10,),
                metrics=["ndcg@10", "diversity@10"], item_vectors=vectors, rerank=reranker,
            )  # fmt: skip
            cal = build_reranker(RerankSpec("calibrated", 0.0), split.train, vectors)
            assert cal.categories is not None
            kl = miscalibration(lists(model, split, reranker, users), cal.categories, seen[users])
            summary = res.summary()
            rows.append((method, lam, summary["ndcg@10"], summary["diversity@10"], kl.mean()))
            print(f"{method:10s} lambda={lam:.1f} ndcg@10={summary['ndcg@10']:.4f} "
                  f"diversity@10={summary['diversity@10']:.4f} miscalibration={kl.mean():.4f}",
                  flush=True)  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, method, column, xlabel in (
        (left, "mmr", 3, "intra-list diversity@10 (mean pairwise cosine distance)"),
        (right, "calibrated", 4, "miscalibration C_KL@10 (lower: genre mix closer to user's)"),
    ):
        pts = [r for r in rows if r[0] == method]
        xs, ys = [r[column] for r in pts], [r[2] for r in pts]
        ax.plot(xs, ys, "o-")
        for r, x, y in zip(pts, xs, ys, strict=True):
            ax.annotate(
                f"{r[1]:.1f}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7
            )
        ax.set_xlabel(xlabel)
        ax.set_ylabel("NDCG@10")
        ax.set_title(f"EASE + {method}, lambda 0..1 (labels)")
        ax.grid(alpha=0.3)
    fig.suptitle("MovieLens-100k, ratio split seed 42, test users (943)")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
