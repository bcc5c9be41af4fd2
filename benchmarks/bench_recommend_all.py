"""`recommend-all` in one process and on Ray Data: prints seconds, users/s and whether the
two files hold the same rows.

ALS on the synthetic generator's data (default 20k users x 5k items, 1M rows), top 10 for
every user. Ray's figure includes starting a local Ray with `--workers` CPUs.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_recommend_all.py --workers 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("-k", type=int, default=10)
    args = parser.parse_args()

    import pandas as pd

    from lmrec.data.synthetic import generate
    from lmrec.models.recommend_all import recommend_all
    from lmrec.models.registry import create_model

    data = generate(args.users, args.items, args.interactions, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "als"
        create_model("als", threads=1).fit(data).save(model_dir)
        files = {}
        for engine in ("local", "ray"):
            out = Path(tmp) / f"{engine}.parquet"
            report = recommend_all(
                model_dir, out, args.k, use_ray=engine == "ray", workers=args.workers
            )
            files[engine] = out
            print(
                json.dumps(
                    {
                        "engine": engine,
                        "workers": report.workers if engine == "ray" else 1,
                        "users": report.users,
                        "rows": report.rows,
                        "seconds": round(report.seconds, 1),
                        "users_per_s": round(report.users / report.seconds),
                    }
                ),
                flush=True,
            )
        same = pd.read_parquet(files["local"]).equals(pd.read_parquet(files["ray"]))
        print(json.dumps({"same_rows": same}))


if __name__ == "__main__":
    main()
