"""`lmrec ope obd`: fetching the Open Bandit Dataset sample (from a local server and a
local archive standing in for the package index), and the command on logs small enough to
work out by hand. The real sample is read in one slow test (it downloads obp's wheel)."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lmrec.cli.main import _register_commands, app
from lmrec.errors import FetchError
from lmrec.feedback import obd
from lmrec.feedback.bandit_ope import evaluate, reward_model, uniform_policy
from lmrec.feedback.obd import MARKER, fetch_obd, read_obd

_register_commands()
HEADER = ",timestamp,item_id,position,click,propensity_score,user_feature_0\n"
FAIL = [sys.executable, "-c", "import sys; sys.exit('no index here')"]


def _log(rows: list[tuple[int, int, int, float]]) -> str:
    """CSV text shaped like the sample: (item, 1-based position, click, propensity)."""
    lines = [
        f"{i},2019-11-24 00:00:{i:02d}+00:00,{item},{pos},{click},{p},abc\n"
        for i, (item, pos, click, p) in enumerate(rows)
    ]
    return HEADER + "".join(lines)


# The logger showed item 0 with chance 0.8 and item 1 with 0.2 (one position); item 0 was
# clicked once in 8 rows, item 1 once in 2. The uniform target gives each item 0.5.
BTS = _log([(0, 1, 1, 0.8)] + [(0, 1, 0, 0.8)] * 7 + [(1, 1, 1, 0.2), (1, 1, 0, 0.2)])
RANDOM = _log([(0, 1, 1, 0.5), (1, 1, 1, 0.5)] * 2 + [(0, 1, 0, 0.5), (1, 1, 0, 0.5)] * 3)


def _files() -> dict[str, str]:
    return {
        f"{behavior}/{campaign}/{campaign}.csv": text
        for behavior, text in (("bts", BTS), ("random", RANDOM))
        for campaign in obd.CAMPAIGNS
    }


@pytest.fixture
def small_sample(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    files = _files()
    table = {rel: hashlib.sha256(text.encode()).hexdigest() for rel, text in files.items()}
    monkeypatch.setattr(obd, "SAMPLE_SHA256", table)
    return files


@pytest.fixture
def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _sdist(path: Path, files: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"obp-0.4.1/{obd.ARCHIVE_PREFIX}{rel}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def _wheel(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for rel, text in files.items():
            zf.writestr(obd.ARCHIVE_PREFIX + rel, text)
    return path


def _copy(src: Path) -> list[str]:
    code = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])"
    return [sys.executable, "-c", code, str(src), "{dest}"]


def test_hand_computed_estimates_on_a_tiny_log(tmp_path: Path, small_sample: dict) -> None:
    for rel, text in small_sample.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    log = read_obd(tmp_path, "bts", "all")
    assert (log.n_items, log.n_positions, len(log)) == (2, 1, 10)
    rows = {e.estimator: e for e in evaluate(log, uniform_policy(2, 1))}
    # w = 0.5/0.8 on item 0, 0.5/0.2 on item 1: (0.625 * 1 + 2.5 * 1) / 10
    assert rows["ips"].estimate == pytest.approx(0.3125)
    assert rows["snips"].estimate == pytest.approx(3.125 / (8 * 0.625 + 2 * 2.5))
    # the reward model: (clicks + 100 * 0.2) / (shown + 100) per item, averaged by the target
    q = np.array([(1 + 20) / 108, (1 + 20) / 102])
    model = reward_model(uniform_policy(2, 1))
    assert model.rates(np.array([8.0, 2.0]), np.array([1.0, 1.0])) == pytest.approx(q)
    assert rows["dm"].estimate == pytest.approx(q.mean())
    residual = (0.625 * (1 - q[0]) + 7 * 0.625 * -q[0] + 2.5 * (1 - q[1]) + 2.5 * -q[1]) / 10
    assert rows["dr"].estimate == pytest.approx(q.mean() + residual)
    for est in rows.values():
        assert est.ci_low <= est.estimate <= est.ci_high


@pytest.mark.parametrize("kind", ["sdist", "wheel"])
def test_fetch_falls_back_to_the_package_archive_then_is_cached(
    kind: str, tmp_path: Path, small_sample: dict, dead_url: str
) -> None:
    if kind == "sdist":
        archive = _sdist(tmp_path / "obp-0.4.1.tar.gz", small_sample)
    else:
        archive = _wheel(tmp_path / "obp-0.4.1-py3-none-any.whl", small_sample)
    path = fetch_obd(tmp_path / "home", base_url=dead_url, pip_download=_copy(archive), timeout=2)
    assert json.loads((path / MARKER).read_text())["source"] == "pypi:obp==0.4.1"
    assert (path / "bts/men/men.csv").read_text() == BTS
    # cached: a second call touches neither source
    again = fetch_obd(tmp_path / "home", base_url=dead_url, pip_download=FAIL, timeout=2)
    assert again == path


def test_a_changed_file_is_refused(tmp_path: Path, small_sample: dict, dead_url: str) -> None:
    changed = dict(small_sample) | {"random/all/all.csv": RANDOM + "99,x,0,1,1,0.5,abc\n"}
    archive = _sdist(tmp_path / "obp-0.4.1.tar.gz", changed)
    with pytest.raises(FetchError, match=r"random/all/all\.csv from obp-0\.4\.1\.tar\.gz checksum"):
        fetch_obd(tmp_path / "home", base_url=dead_url, pip_download=_copy(archive), timeout=2)
    assert not (obd.sample_dir(tmp_path / "home") / MARKER).exists()


def test_ope_obd_command_writes_rows_with_the_truth(
    tmp_path: Path, small_sample: dict, dead_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = _sdist(tmp_path / "obp-0.4.1.tar.gz", small_sample)
    monkeypatch.setattr(obd, "DEFAULT_PIP_DOWNLOAD", tuple(_copy(archive)))
    monkeypatch.setenv("LMREC_OBD_URL", dead_url)
    out = tmp_path / "rows.json"
    args = ["ope", "obd", "--campaign", "men", "--home", str(tmp_path / "h"), "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    assert [r["estimator"] for r in rows] == ["ips", "snips", "dm", "dr", "truth (random log)"]
    assert all(set(r) == {"estimator", "estimate", "ci_low", "ci_high", "truth"} for r in rows)
    assert all(r["truth"] == pytest.approx(0.4) for r in rows)  # 4 clicks in 10 random rows
    assert rows[0]["estimate"] == pytest.approx(0.3125)
    assert "10 rows, 2 clicks" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--campaign", "kids"], "campaign must be one of all, men, women, not 'kids'"),
        (["--target", "bts"], "--target must be one of uniform, not 'bts'"),
    ],
)
def test_bad_options_are_one_line(
    args: list[str], message: str, tmp_path: Path, small_sample: dict, dead_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    archive = _sdist(tmp_path / "obp-0.4.1.tar.gz", small_sample)
    monkeypatch.setattr(obd, "DEFAULT_PIP_DOWNLOAD", tuple(_copy(archive)))
    monkeypatch.setenv("LMREC_OBD_URL", dead_url)
    result = CliRunner().invoke(app, ["ope", "obd", "--home", str(tmp_path), *args])
    assert result.exit_code == 2 and message in result.output


@pytest.mark.slow
def test_real_sample_truth_and_intervals(tmp_path: Path) -> None:
    """The published sample (downloaded once into $LMREC_HOME): the random log of the
    'all' campaign has 38 clicks in 10,000 rows, and every estimator's interval from the
    Thompson-sampling log holds that truth."""
    out = tmp_path / "all.json"
    result = CliRunner().invoke(app, ["ope", "obd", "--campaign", "all", "--json", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    assert rows[-1]["estimate"] == pytest.approx(0.0038)
    for row in rows:
        assert row["ci_low"] <= row["truth"] <= row["ci_high"], row


def test_the_catalogue_counts_items_only_the_random_log_showed(
    tmp_path: Path, dead_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the Thompson log only ever showed item 0 (chance 0.9); the random log shows 0 and 1
    bts_only_zero = _log([(0, 1, 1, 0.9)] + [(0, 1, 0, 0.9)] * 9)
    files = {
        f"{b}/{c}/{c}.csv": (bts_only_zero if b == "bts" else RANDOM)
        for b in ("bts", "random")
        for c in obd.CAMPAIGNS
    }
    table = {rel: hashlib.sha256(text.encode()).hexdigest() for rel, text in files.items()}
    monkeypatch.setattr(obd, "SAMPLE_SHA256", table)
    archive = _sdist(tmp_path / "obp-0.4.1.tar.gz", files)
    monkeypatch.setattr(obd, "DEFAULT_PIP_DOWNLOAD", tuple(_copy(archive)))
    monkeypatch.setenv("LMREC_OBD_URL", dead_url)
    out = tmp_path / "rows.json"
    args = ["ope", "obd", "--home", str(tmp_path / "h"), "--json", str(out)]
    assert CliRunner().invoke(app, args).exit_code == 0
    ips_row = json.loads(out.read_text())[0]
    assert ips_row["estimate"] == pytest.approx(0.5 / 0.9 * 1 / 10)  # uniform: 1 of 2 items
