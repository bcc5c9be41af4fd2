"""The Open Bandit Dataset sample: real logged traffic from a fashion site, with propensities.

ZOZO's Open Bandit Dataset logs three recommendation slots on a fashion e-commerce site
under two policies, uniform random and Bernoulli Thompson sampling (BTS), for three
campaigns (all, men, women). Its 10,000-row samples of each (policy, campaign) ship inside
the `obp` package. obp declares Python < 3.11, so it is never installed: the six log files
are taken from its published archive and checked against the table below.

Sources, in order:
1. the sample in the dataset's own repository (raw files; $LMREC_OBD_URL replaces the
   address), one file at a time;
2. the `obp==0.4.1` wheel or sdist from the package index (`pip download --no-deps`).
A marker is written after every file verified, so the sample is fetched once.

Each row is one item shown at one of three positions, with the logging policy's
probability of that item at that position (`propensity_score`) and whether it was clicked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lmrec.core.paths import lmrec_home
from lmrec.errors import DataError, FetchError

OBD_URL = "https://raw.githubusercontent.com/st-tech/zr-obp/master/obd"
OBP_REQUIREMENT = "obp==0.4.1"
MARKER = ".lmrec-fetched.json"
BEHAVIORS = ("random", "bts")
CAMPAIGNS = ("all", "men", "women")

# SHA-256 of each log file, computed from the obp-0.4.1 wheel (the sdist holds the same).
SAMPLE_SHA256: dict[str, str] = {
    "bts/all/all.csv": "0ad874e4dbf6902f0845dd478ad8dde5ef6903583d3ffaace78411bdad064106",
    "bts/men/men.csv": "db6d1f7ed2d591ba521533e45286d4c1fba7fe57a8ad2e80342210335f43c527",
    "bts/women/women.csv": "e5d1b49a39b608585a2f3014a3f54970430cd37a495c1b73fceb85cdf428a5b8",
    "random/all/all.csv": "7168295b6e0a9eabcf3392320a5dd434e542b68e705d5cd9491499af589812f1",
    "random/men/men.csv": "ede6d08c6877f99cd3770f7d09e26c738e6aa6de4445ccccfb1356ba5d06b1eb",
    "random/women/women.csv": "e65f3bd3beb17664fa69cc129bf7bf852a775f8ffa630506e505fc905315bb34",
}
ARCHIVE_PREFIX = "obp/dataset/obd/"

DEFAULT_PIP_DOWNLOAD: tuple[str, ...] = (
    sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
    "--timeout", "10", "--retries", "1", OBP_REQUIREMENT, "-d", "{dest}",
)  # fmt: skip

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BanditLog:
    """One (policy, campaign) log: row i showed `item[i]` at `position[i]` (0-based) with
    the logging policy's chance `propensity[i]`; `click[i]` is 0 or 1."""

    behavior: str
    campaign: str
    item: np.ndarray
    position: np.ndarray
    click: np.ndarray
    propensity: np.ndarray
    n_items: int
    n_positions: int

    def __len__(self) -> int:
        return len(self.click)


def sample_dir(home: str | Path | None = None) -> Path:
    return lmrec_home(home) / "datasets" / "obd-sample"


def fetch_obd(
    home: str | Path | None = None,
    *,
    base_url: str | None = None,
    pip_download: Sequence[str] | None = None,
    timeout: float = 10.0,
    progress: Progress | None = None,
) -> Path:
    """Directory holding `{random,bts}/{all,men,women}/{campaign}.csv`, fetched and
    verified on first use."""
    target = sample_dir(home)
    if (target / MARKER).exists():
        return target
    say = progress or (lambda _msg: None)
    base = (base_url or os.environ.get("LMREC_OBD_URL") or OBD_URL).rstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix=".obd-", dir=target.parent) as tmp:
        work = Path(tmp)
        try:
            say(f"downloading the Open Bandit Dataset sample from {base}")
            _from_repository(base, work / "repo", timeout)
            return _install(work / "repo", target, {"source": base})
        except FetchError as exc:
            failures.append(f"{base}: {exc}")
        try:
            say(f"trying the {OBP_REQUIREMENT} archive from the package index")
            _from_package(work / "download", work / "pkg", pip_download)
            return _install(work / "pkg", target, {"source": f"pypi:{OBP_REQUIREMENT}"})
        except FetchError as exc:
            failures.append(f"package index: {exc}")
    raise FetchError(
        f"could not fetch the Open Bandit Dataset sample ({'; '.join(failures)}); run "
        f"`pip download --no-deps {OBP_REQUIREMENT}` where the index is reachable and unpack "
        f"{ARCHIVE_PREFIX} into {target}"
    )


def _check(rel: str, data: bytes, origin: str) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if digest != SAMPLE_SHA256[rel]:
        raise FetchError(f"{rel} from {origin} checksum mismatch (sha256 {digest})")


def _from_repository(base: str, out: Path, timeout: float) -> None:
    for rel in SAMPLE_SHA256:
        try:
            with urllib.request.urlopen(f"{base}/{rel}", timeout=timeout) as response:
                data = response.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise FetchError(f"unreachable ({getattr(exc, 'reason', exc)})") from None
        _check(rel, data, base)
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)


def _from_package(download_dir: Path, out: Path, pip_download: Sequence[str] | None) -> None:
    download_dir.mkdir(parents=True)
    command = [p.replace("{dest}", str(download_dir)) for p in pip_download or DEFAULT_PIP_DOWNLOAD]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"pip download failed ({exc})") from None
    archives = sorted(p for p in download_dir.iterdir() if p.is_file())
    if done.returncode != 0 or not archives:
        last = (done.stderr or done.stdout).strip().splitlines()
        raise FetchError(f"pip download failed ({last[-1] if last else 'no archive'})")
    found = _read_members(archives[0], [ARCHIVE_PREFIX + rel for rel in SAMPLE_SHA256])
    for rel in SAMPLE_SHA256:
        data = found.get(ARCHIVE_PREFIX + rel)
        if data is None:
            raise FetchError(f"{archives[0].name} has no {ARCHIVE_PREFIX}{rel}")
        _check(rel, data, archives[0].name)
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)


def _read_members(path: Path, wanted: list[str]) -> dict[str, bytes]:
    """The members of a wheel/zip or a gzipped tar (sdist) whose names end with one of
    `wanted` (an sdist puts them under a versioned top folder), keyed by that ending."""

    def match(name: str) -> str | None:
        return next((w for w in wanted if name.endswith(w)), None)

    out: dict[str, bytes] = {}
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                for name in zf.namelist():
                    if (key := match(name)) is not None:
                        out[key] = zf.read(name)
            return out
        with tarfile.open(path, "r:*") as tf:
            for member in tf.getmembers():
                key = match(member.name)
                fh = tf.extractfile(member) if key is not None and member.isfile() else None
                if key is not None and fh is not None:
                    out[key] = fh.read()
        return out
    except (zipfile.BadZipFile, tarfile.TarError, OSError) as exc:
        raise FetchError(f"{path.name} is not a readable archive ({exc})") from None


def _install(src: Path, target: Path, record: dict[str, object]) -> Path:
    """Move verified files into place, then write the marker (last, so it means done)."""
    if target.exists():
        shutil.rmtree(target)
    src.replace(target)
    (target / MARKER).write_text(json.dumps(record, indent=2) + "\n")
    return target


# ---- reading ------------------------------------------------------------------------------
_COLUMNS = ("item_id", "position", "click", "propensity_score")


def read_obd(directory: Path, behavior: str, campaign: str) -> BanditLog:
    """One log of the sample; positions are made 0-based, the catalogue size is the number
    of items the uniform-random policy chose from (its propensity is 1 / items)."""
    if behavior not in BEHAVIORS:
        raise DataError(f"behavior must be one of {', '.join(BEHAVIORS)}, not {behavior!r}")
    if campaign not in CAMPAIGNS:
        raise DataError(f"campaign must be one of {', '.join(CAMPAIGNS)}, not {campaign!r}")
    path = directory / behavior / campaign / f"{campaign}.csv"
    try:
        frame = pd.read_csv(path, usecols=list(_COLUMNS))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    items = frame["item_id"].to_numpy(np.int64)
    positions = frame["position"].to_numpy(np.int64) - 1
    return BanditLog(
        behavior=behavior,
        campaign=campaign,
        item=items,
        position=positions,
        click=frame["click"].to_numpy(np.float64),
        propensity=frame["propensity_score"].to_numpy(np.float64),
        n_items=int(items.max()) + 1,
        n_positions=int(positions.max()) + 1,
    )
