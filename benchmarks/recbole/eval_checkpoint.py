"""Test a RecBole checkpoint (the best epoch so far of a running `run_sasrec.py`) on the
same leave-one-out split, without disturbing the run: the validation and test NDCG@10 of
the checkpoint, and the epoch it was saved at.

    /tmp/recbole-venv/bin/python benchmarks/recbole/eval_checkpoint.py saved/SASRec-*.pth
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import numpy as np
    import torch
    from recbole.quick_start import load_data_and_model

    if "float" not in np.__dict__:  # RecBole 1.2.1's NDCG still spells np.float
        np.float = float  # type: ignore[attr-defined]
    from recbole.utils import get_trainer

    torch.set_num_threads(args.threads)
    saved = torch.load(args.checkpoint, map_location="cpu")
    config, model, _dataset, _train, valid, test = load_data_and_model(args.checkpoint)
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    out = {
        "checkpoint_epoch": int(saved["epoch"]) + 1,  # RecBole counts epochs from 0
        "best_valid_score": float(saved["best_valid_score"]),
        "valid": {k: float(v) for k, v in trainer.evaluate(valid, load_best_model=False).items()},
        "test": {k: float(v) for k, v in trainer.evaluate(test, load_best_model=False).items()},
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
