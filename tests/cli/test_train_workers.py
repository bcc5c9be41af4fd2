"""`lmrec train MODEL --workers N`: data-parallel training on Ray Train, across a
two-node Ray cluster brought up on this machine (a head and a worker node, one CPU each,
small object stores) and shut down afterwards."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import lmrec

Invoke = Callable[..., tuple[int, str]]

NODE = {"num_cpus": 1, "object_store_memory": 100 * 1024**2}


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[str]:
    pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={**NODE, "include_dashboard": False},
    )
    try:
        cluster.add_node(**NODE)
        cluster.wait_for_nodes()
        yield cluster.address
    finally:
        cluster.shutdown()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_sasrec_trains_across_two_nodes(
    two_nodes: str, invoke: Invoke, ratings_dir: Path, tmp_path: Path
) -> None:
    out, checkpoints = tmp_path / "sasrec", tmp_path / "checkpoints"
    code, text = invoke(
        "train", "sasrec", "--data", ratings_dir, "--protocol", "loo", "--out", out,
        "--set", "epochs=2", "--set", "hidden=16", "--set", "n_layers=1", "--threads", "1",
        "--checkpoint-dir", checkpoints, "--workers", "2", "--ray-address", two_nodes,
    )  # fmt: skip
    assert code == 0, text
    # one worker on each node (each node has one CPU and a worker takes one)
    assert "2 epochs on 2 workers, 2 Ray nodes" in text
    meta = json.loads((out / "model.json").read_text())
    assert meta["model"] == "sasrec" and meta["config"]["epochs"] == 2
    # the first worker kept the checkpoints, as one process does
    state = json.loads((checkpoints / "state.json").read_text())
    assert state["epochs_done"] == 2 and len(state["history"]) == 2
    assert all(r["metric"] is not None for r in state["history"])

    model = lmrec.load_model(out)
    recs = model.recommend(lmrec.Query(user_id="0", k=5))
    assert len(recs) == 5 and recs.scores == sorted(recs.scores, reverse=True)
    code, text = invoke("evaluate", out, "--json")
    assert code == 0, text
    assert 0.0 <= json.loads((out / "metrics.json").read_text())["ndcg@10"] <= 1.0


def test_workers_are_for_torch_models(invoke: Invoke, ratings_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    code, text = invoke(
        "train", "ease", "--data", ratings_dir, "--workers", "2", "--out", tmp_path / "m"
    )
    assert code == 2 and "ease fits in one process" in text


def test_ray_options_need_workers(invoke: Invoke, ratings_dir: Path, tmp_path: Path) -> None:
    code, text = invoke(
        "train", "sasrec", "--data", ratings_dir, "--ray-address", "auto", "--out", tmp_path
    )
    assert code == 2 and "go with --workers N" in text


def test_without_ray_workers_say_how_to_install(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as if the ray extra were not installed
    code, text = invoke(
        "train", "sasrec", "--data", ratings_dir, "--workers", "2", "--out", tmp_path / "m"
    )
    assert code == 2 and "pip install 'lmrec[ray]'" in text
