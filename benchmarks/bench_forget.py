"""What forgetting a user costs: DELETE /v1/users/{id} on a service with EASE, ALS and
SASRec (ml-100k, all of it) live, each user with 20 stored events and 5 served lists.
Prints the median and the slowest answer, and the time to forget a user in one model
alone (the copy with the user's rows emptied and the rebuilt live model).

    python benchmarks/bench_forget.py --users 20
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from lmrec.data import load_dataset
from lmrec.models.forgetting import forget_users
from lmrec.models.registry import create_model
from lmrec.serving.app import create_app
from lmrec.serving.settings import ServeSettings
from lmrec.store.registry import ModelRegistry

KEY = "bench-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    data = load_dataset("ml-100k")
    root = Path(tempfile.mkdtemp(prefix="lmrec-forget-"))
    reg = ModelRegistry(root / "registry")
    models = {
        "ease": create_model("ease", {"reg": 250}),
        "als": create_model("als", {"threads": args.threads}),
        "sasrec": create_model("sasrec", {"epochs": 2, "threads": args.threads}),
    }
    for name, model in models.items():
        reg.register(model.fit(data), name)
        started = time.perf_counter()
        forget_users(model, [str(data.user_map.ids[0])])
        print(f"forget one user in {name} alone: {1000 * (time.perf_counter() - started):.1f} ms")
    settings = ServeSettings(
        home=root,
        registry=reg.root,
        db=f"sqlite:///{root / 'e.db'}",
        api_keys=[KEY],
        default_model="ease",
        registry_poll_seconds=0,
    )
    users = [str(u) for u in data.user_map.ids[: args.users]]
    rng = np.random.default_rng(0)
    with TestClient(create_app(settings)) as client:
        for u in users:
            for _ in range(5):
                client.get(f"/v1/users/{u}/recommendations")
            items = rng.choice(data.item_map.ids, 20, replace=False)
            events = [{"event_id": f"{u}-{i}", "user_id": u, "item_id": str(i), "type": "click"}
                      for i in items]  # fmt: skip
            client.post("/v1/events", json={"events": events}, headers=AUTH)
        times = []
        for u in users:
            started = time.perf_counter()
            r = client.delete(f"/v1/users/{u}", headers=AUTH)
            times.append(time.perf_counter() - started)
            assert r.status_code == 200 and r.json()["events_deleted"] == 20, r.text
    print(
        f"DELETE /v1/users/ID with ease, als and sasrec live ({data.n_users} users, "
        f"{data.n_items} items): median {1000 * statistics.median(times):.0f} ms, "
        f"slowest {1000 * max(times):.0f} ms over {len(times)} users"
    )


if __name__ == "__main__":
    main()
