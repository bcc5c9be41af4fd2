"""RecBole 1.2.1's SASRec on ml-100k under leave-one-out by time, full ranking.

Runs in its own virtual environment (RecBole pins old NumPy/pandas), never inside lmrec's:

    python3 -m venv /tmp/recbole-venv
    /tmp/recbole-venv/bin/pip install torch==2.13.0
    /tmp/recbole-venv/bin/pip install -c constraints.txt recbole==1.2.1 \
        "numpy<2" "pandas<2.2" "scipy<1.14" "setuptools<81"
    /tmp/recbole-venv/bin/python benchmarks/recbole/run_sasrec.py \
        --data-dir /tmp/recbole-venv/lib/python3.11/site-packages/recbole/dataset_example

The model keeps RecBole's defaults (hidden 64, 2 layers, 2 heads, inner 256, dropout 0.5,
max length 50, CE loss, Adam lr 1e-3, batch 2048, up to 300 epochs, stop after 10 epochs
without improvement). Only the protocol is set: leave-one-out by time (the same split lmrec's
`--protocol loo` makes), full ranking, and NDCG@10 as the validation metric so that both
tools select their checkpoint on the same number. RecBole keeps a user's past items in the
ranking for sequence models; that is its convention and it is left as is.
"""

from __future__ import annotations

import argparse
import json
import os
import time

# RecBole's checkpoints hold its Config object; torch>=2.6 refuses such pickles by default.
os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder holding ml-100k/ml-100k.inter")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2020, help="RecBole's default seed")
    parser.add_argument("--epochs", type=int, default=300, help="RecBole's default")
    parser.add_argument("--out", default="recbole_sasrec.json")
    args = parser.parse_args()

    import numpy as np
    import torch
    from recbole.quick_start import run_recbole

    if "float" not in np.__dict__:  # RecBole 1.2.1's NDCG still spells np.float
        np.float = float  # type: ignore[attr-defined]

    torch.set_num_threads(args.threads)
    config = {
        "data_path": args.data_dir,
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
        "TIME_FIELD": "timestamp",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "eval_args": {
            "split": {"LS": "valid_and_test"},
            "order": "TO",
            "group_by": "user",
            "mode": "full",
        },
        "train_neg_sample_args": None,  # CE loss trains against all items
        "metrics": ["NDCG", "Hit", "MRR", "Recall"],
        "topk": [10],
        "valid_metric": "NDCG@10",
        "epochs": args.epochs,
        "seed": args.seed,
        "device": "cpu",
        "use_gpu": False,
        "show_progress": False,
    }
    started = time.perf_counter()
    result = run_recbole(model="SASRec", dataset="ml-100k", config_dict=config)
    wall_s = time.perf_counter() - started
    out = {
        "wall_s": round(wall_s, 1),
        "threads": args.threads,
        "best_valid": {k: float(v) for k, v in result["best_valid_result"].items()},
        "test": {k: float(v) for k, v in result["test_result"].items()},
    }
    with open(args.out, "w") as handle:
        json.dump(out, handle, indent=2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
