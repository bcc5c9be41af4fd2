"""What the small language model costs, and what its ranking is worth (the `llm` extra).

    nice -n 10 .venv/bin/python benchmarks/bench_llm_rerank.py --threads 1 --part cost
    nice -n 10 .venv/bin/python benchmarks/bench_llm_rerank.py --threads 1 --part explain
    nice -n 10 .venv/bin/python benchmarks/bench_llm_rerank.py --threads 1 --part service \
        --candidates 100 --batch-sizes 50
    nice -n 10 .venv/bin/python benchmarks/bench_llm_rerank.py --threads 1 --part ndcg

On the ml-100k 8:1:1 split (seed 42), trained on the training part only:

- cost: the `llm` ranker's seconds per candidate at each --batch-sizes, scoring 50 of
  EASE's candidates for --cost-users users (five recent titles each) with empty caches;
  the prompt pass is counted once per user and reported beside it.
- explain: GET /v1/users/{id}/recommendations?k=10&explain=true through the real app in
  this process (FastAPI's TestClient), for --explain-users users: the template style,
  then style=text cold (empty caches) and the same request again (cached).
- service: GET /v1/users/{id}/recommendations?k=10 from rerank with the `llm` ranker over
  EASE's top --candidates (batch: the last of --batch-sizes), each user cold, then again.
- ndcg: NDCG@10 of rerank (EASE's top --candidates re-ordered by the `llm` ranker)
  against EASE alone on --sample users drawn from those with validation (then test)
  items. The scoring rule (mean or sum of the title's token log-probabilities) and
  llm_mix (the language model's share beside EASE's z-scored score) are chosen on the
  validation sample; the test sample is scored once. Paired t-test over users.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _split(seed: int) -> Any:
    from lmrec.data import load_dataset
    from lmrec.data.splitters import make_split

    return make_split(load_dataset("ml-100k"), "ratio", seed=seed)


def cost(args: argparse.Namespace) -> None:
    import torch

    from lmrec.encoders.small_lm import SmallLM
    from lmrec.models.ranking.llm_ranker import LlmRanker
    from lmrec.models.registry import create_model

    torch.set_num_threads(args.threads)
    split = _split(args.seed)
    started = time.perf_counter()
    lm = SmallLM.shared("cpu")
    print(f"load (converted copy): {time.perf_counter() - started:.1f} s")
    rerank = create_model(
        "rerank", {"retriever_config": {"reg": 300}, "ranker": "llm", "candidates": 50}
    )
    rerank.fit(split.train)
    texts = rerank._item_texts
    rng = np.random.default_rng(0)
    users = rng.choice(split.train.n_users, size=args.cost_users, replace=False)
    raw = rerank.retriever_.score_users(users)
    cands, _ = rerank._candidates(raw, rerank.history_[users], users)
    jobs = []
    for row, u in enumerate(users):
        history = [texts[i - 1] for i in rerank.user_recent_[u] if i > 0]
        jobs.append((history, [texts[i] for i in cands[row] if i >= 0]))
    n_cands = sum(len(t) for _, t in jobs)
    print(f"{len(users)} users, {n_cands} candidates, threads={torch.get_num_threads()}")
    for bs in args.batch_sizes:
        ranker = LlmRanker(lm, batch_size=bs, threads=args.threads)
        lm.clear_caches()
        started = time.perf_counter()
        for history, titles in jobs:
            ranker.scores(history, titles)
        total = time.perf_counter() - started
        started = time.perf_counter()
        for history, titles in jobs:
            ranker.scores(history, titles)
        cached = time.perf_counter() - started
        # the prompt pass alone, per user (scored again with one candidate, uncached)
        lm.clear_caches()
        started = time.perf_counter()
        for history, titles in jobs:
            ranker.scores(history, titles[:1])
        prompt = (time.perf_counter() - started) / len(jobs)
        print(
            f"batch {bs:3d}: {total / n_cands * 1000:7.1f} ms per candidate "
            f"({total / len(jobs):5.2f} s per user of 50; prompt + first candidate "
            f"{prompt * 1000:.0f} ms; cached again {cached / n_cands * 1e6:.0f} us)"
        )


def explain(args: argparse.Namespace) -> None:
    import torch
    from fastapi.testclient import TestClient

    from lmrec.encoders.small_lm import SmallLM
    from lmrec.models.registry import create_model
    from lmrec.serving.app import create_app
    from lmrec.serving.settings import ServeSettings
    from lmrec.store.registry import ModelRegistry

    torch.set_num_threads(args.threads)
    split = _split(args.seed)
    key = "bench-key-0123456789abcdef"
    auth = {"Authorization": f"Bearer {key}"}
    rng = np.random.default_rng(1)
    users = rng.choice(split.train.user_map.ids, size=args.explain_users, replace=False)
    with tempfile.TemporaryDirectory() as tmp:
        registry = ModelRegistry(Path(tmp) / "registry")
        model = create_model("ease", {"reg": 300, "threads": args.threads}).fit(split.train)
        registry.register(model, "ease")
        settings = ServeSettings(
            home=Path(tmp),
            registry=registry.root,
            db=f"sqlite:///{Path(tmp) / 'events.db'}",
            api_keys=[key],
            default_model="ease",
            registry_poll_seconds=0,
        )
        lm = SmallLM.shared("cpu")
        with TestClient(create_app(settings)) as client:

            def get(user: str, style: str) -> float:
                started = time.perf_counter()
                r = client.get(
                    f"/v1/users/{user}/recommendations",
                    params={"k": 10, "explain": "true", "style": style},
                    headers=auth,
                )
                assert r.status_code == 200, r.text
                return time.perf_counter() - started

            get(str(users[0]), "template")  # warm-up: co-occurrence, first request
            lm.clear_caches()
            template, cold, cached = [], [], []
            for user in users:
                template.append(get(str(user), "template"))
                cold.append(get(str(user), "text"))
                cached.append(get(str(user), "text"))
            r = client.get(
                f"/v1/users/{users[0]}/recommendations",
                params={"k": 3, "explain": "true", "style": "text"},
                headers=auth,
            )
            for item in r.json()["items"]:
                print("  e.g.", item["explanation"]["text"])
    for name, times in (("template", template), ("text, cold", cold), ("text, cached", cached)):
        ms = np.asarray(times) * 1000
        print(f"{name:13s} k=10: median {np.median(ms):8.1f} ms  max {ms.max():8.1f} ms")
    print(f"generate calls: {lm.generate_calls} for {len(users)} cold lists")


def service(args: argparse.Namespace) -> None:
    """GET /v1/users/{id}/recommendations?k=10 from a rerank model with the llm ranker
    re-ordering EASE's top --candidates: each user cold (empty caches), then again."""
    import torch
    from fastapi.testclient import TestClient

    from lmrec.encoders.small_lm import SmallLM
    from lmrec.models.registry import create_model
    from lmrec.serving.app import create_app
    from lmrec.serving.settings import ServeSettings
    from lmrec.store.registry import ModelRegistry

    torch.set_num_threads(args.threads)
    split = _split(args.seed)
    key = "bench-key-0123456789abcdef"
    auth = {"Authorization": f"Bearer {key}"}
    rng = np.random.default_rng(2)
    users = rng.choice(split.train.user_map.ids, size=args.explain_users, replace=False)
    config = {
        "retriever_config": {"reg": 300},
        "ranker": "llm",
        "candidates": args.candidates,
        "llm_batch_size": args.batch_sizes[-1],
        "threads": args.threads,
    }
    with tempfile.TemporaryDirectory() as tmp:
        registry = ModelRegistry(Path(tmp) / "registry")
        registry.register(create_model("rerank", config).fit(split.train), "rerank")
        settings = ServeSettings(
            home=Path(tmp),
            registry=registry.root,
            db=f"sqlite:///{Path(tmp) / 'events.db'}",
            api_keys=[key],
            default_model="rerank",
            registry_poll_seconds=0,
        )
        lm = SmallLM.shared("cpu")
        with TestClient(create_app(settings)) as client:
            lm.clear_caches()
            cold, cached = [], []
            for user in users:
                for times in (cold, cached):
                    started = time.perf_counter()
                    r = client.get(
                        f"/v1/users/{user}/recommendations", params={"k": 10}, headers=auth
                    )
                    times.append(time.perf_counter() - started)
                    assert r.status_code == 200, r.text
    print(
        f"rerank llm, k=10 from {args.candidates} candidates, batch {args.batch_sizes[-1]}, "
        f"{len(users)} users"
    )
    for name, times in (("cold", cold), ("cached", cached)):
        ms = np.asarray(times) * 1000
        print(f"  {name:7s} median {np.median(ms):8.1f} ms  max {ms.max():8.1f} ms")


def ndcg(args: argparse.Namespace) -> None:
    import torch
    from scipy import stats

    from lmrec.models.registry import create_model

    torch.set_num_threads(args.threads)
    split = _split(args.seed)
    base = {"retriever_config": {"reg": 300}, "ranker": "llm", "candidates": args.candidates}
    model = create_model("rerank", {**base, "threads": args.threads}).fit(split.train)
    ease = model.retriever_
    seen_valid = split.train.binary_csr
    seen_test = (split.train.binary_csr + split.valid.binary_csr).tocsr()
    rng = np.random.default_rng(args.seed)

    def sample(targets: Any) -> np.ndarray:
        users = np.flatnonzero(np.diff(targets.indptr) > 0)
        return np.sort(rng.choice(users, size=min(args.sample, len(users)), replace=False))

    def per_user(scores: np.ndarray, users: np.ndarray, seen: Any, targets: Any) -> np.ndarray:
        out = np.zeros(len(users))
        disc = 1.0 / np.log2(np.arange(2, 12))
        for r, u in enumerate(users):
            s = scores[r].astype(np.float64).copy()
            s[seen[u].indices] = -np.inf
            top = np.argsort(-s, kind="stable")[:10]
            rel = set(targets[u].indices)
            dcg = sum(disc[j] for j, i in enumerate(top) if i in rel)
            ideal = disc[: min(len(rel), 10)].sum()
            out[r] = dcg / ideal
        return out

    valid_users = sample(split.valid.binary_csr)
    test_users = sample(split.test.binary_csr)
    valid_ease = per_user(ease.score_users(valid_users), valid_users, seen_valid, split.valid.csr)
    print(f"valid ({len(valid_users)} users): ease {valid_ease.mean():.4f}")
    # every setting reads the same cached log-probabilities: only the first costs time
    best: tuple[float, str, float] = (-1.0, "mean", 1.0)
    for rule in ("mean", "sum"):
        for mix in args.mixes:
            other = create_model(
                "rerank",
                {**base, "llm_score": rule, "llm_mix": mix, "threads": args.threads},
            ).fit(split.train)
            started = time.perf_counter()
            got = per_user(
                other.score_users(valid_users), valid_users, seen_valid, split.valid.csr
            ).mean()
            took = time.perf_counter() - started
            print(f"  llm_score={rule} llm_mix={mix}: NDCG@10 {got:.4f} ({took:.0f} s)")
            best = max(best, (got, rule, mix))
    _, rule, mix = best
    chosen = create_model(
        "rerank", {**base, "llm_score": rule, "llm_mix": mix, "threads": args.threads}
    ).fit(split.train)
    # test once: EASE fit on train alone; the seen mask is train + valid
    a = per_user(ease.score_users(test_users), test_users, seen_test, split.test.csr)
    b = per_user(chosen.score_users(test_users), test_users, seen_test, split.test.csr)
    t = stats.ttest_rel(b, a)
    print(
        f"test ({len(test_users)} users, llm_score={rule}, llm_mix={mix}, "
        f"{args.candidates} candidates): ease {a.mean():.4f}  rerank-llm {b.mean():.4f}  "
        f"diff {b.mean() - a.mean():+.4f} (paired t p={t.pvalue:.3g})"
    )
    if mix < 1.0:  # the language model alone on the same test users, for the record
        alone = create_model("rerank", {**base, "llm_score": rule, "threads": args.threads})
        c = per_user(
            alone.fit(split.train).score_users(test_users), test_users, seen_test, split.test.csr
        )
        print(f"  the language model alone (llm_mix=1) on them: {c.mean():.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["cost", "explain", "service", "ndcg"], required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16, 50])
    parser.add_argument("--cost-users", type=int, default=5)
    parser.add_argument("--explain-users", type=int, default=5)
    parser.add_argument("--sample", type=int, default=100)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--mixes", type=float, nargs="+", default=[1.0, 0.5, 0.3, 0.1])
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    parts = {"cost": cost, "explain": explain, "service": service, "ndcg": ndcg}
    parts[args.part](args)


if __name__ == "__main__":
    main()
