"""Wall time and peak memory of one `lmrec search` on the command line, as a user runs it.

    .venv/bin/python benchmarks/bench_cli_search.py --runs 5 --threads 1
    .venv/bin/python benchmarks/bench_cli_search.py --model runs/content   # an existing model

Each run is a fresh `lmrec search "QUERY" --model DIR -k 10` process (the installed
command's interpreter), so every import and model load counts. Three ways:
  onnx-int8  the default: queries embedded by the int8 ONNX build of MiniLM (exported
             into the cache once, before the timed runs), no torch
  torch      --backend torch: sentence-transformers on PyTorch (what every search did before)
  server     --server URL: a running `lmrec serve` (started here on 127.0.0.1) answers
Without --model a content model is trained once on ml-100k (`lmrec train content
--protocol none`) into a temporary directory. Prints the median and the spread of the
wall times, peak resident memory, and the machine's load average before and after, since
on a shared 2-core machine the load changes the wall time more than anything else; the
CPU time (user + system) of each run is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LMREC = [sys.executable, "-c", "from lmrec.cli.main import main; main()"]
QUERY = "funny animated films for kids"


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds (user + system), peak RSS in MB) of one child process.
    The CPU time hardly depends on what else the machine runs; the wall time does."""
    start = time.perf_counter()
    child = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(args[3:])} exited with {child.returncode}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def measure(label: str, args: list[str], env: dict[str, str], runs: int) -> None:
    results = [timed(args, env) for _ in range(runs)]
    wall = [r[0] for r in results]
    cpu = [r[1] for r in results]
    print(
        f"{label:10s} wall median {statistics.median(wall):5.2f} s "
        f"(min {min(wall):.2f}, max {max(wall):.2f}); CPU median {statistics.median(cpu):5.2f} s; "
        f"peak RSS {max(r[2] for r in results):.0f} MB; {runs} runs",
        flush=True,
    )


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server at {url} did not come up in {timeout}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a trained content model directory")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="threads for the query encoder")
    parser.add_argument("--skip", nargs="*", default=[], choices=["torch", "server"])
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-cli-search-"))
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    try:
        model = args.model
        if model is None:
            model = work / "content"
            print("training a content model on ml-100k (once) ...", flush=True)
            train = ["train", "content", "--data", "ml-100k", "--protocol", "none"]
            subprocess.run([*LMREC, *train, "--out", str(model)], env=env, check=True)
        search = [*LMREC, "search", QUERY, "--model", str(model), "-k", "10"]
        search += ["--threads", str(args.threads)]
        subprocess.run(search, env=env, check=True, stdout=subprocess.DEVNULL)  # the export
        print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()}", flush=True)
        measure("onnx-int8", search, env, args.runs)
        if "torch" not in args.skip:
            measure("torch", [*search, "--backend", "torch"], env, args.runs)
        if "server" not in args.skip:
            registry = work / "registry"
            register = ["models", "register", str(model), "content", "--registry", str(registry)]
            subprocess.run([*LMREC, *register], env=env, check=True, stdout=subprocess.DEVNULL)
            port = 18000 + os.getpid() % 1000
            serve = ["serve", "--registry", str(registry), "--port", str(port)]
            serve += ["--db", f"sqlite:///{work / 'events.db'}"]
            serve += ["--api-key", "bench-key-0123456789", "--log-level", "warning"]
            server = subprocess.Popen([*LMREC, *serve], env=env, stderr=subprocess.DEVNULL)
            try:
                url = f"http://127.0.0.1:{port}"
                wait_for(url, server)
                asking = [*LMREC, "search", QUERY, "--server", url, "-k", "10"]
                subprocess.run(asking, env=env, check=True, stdout=subprocess.DEVNULL)  # warm
                measure("server", asking, env, args.runs)
            finally:
                server.terminate()
                server.wait(timeout=30)
        print(f"load average after: {os.getloadavg()}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
