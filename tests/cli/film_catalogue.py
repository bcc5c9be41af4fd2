"""A tiny film catalogue with three clear tastes, written to disk for CLI tests that use
the real text model (15 short texts)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from lmrec.cli.main import _register_commands, app
from lmrec.encoders import TextEncoder

_register_commands()
_runner = CliRunner()

FILMS = {
    "kids": [
        ("toy", "Toy Story", "Animation|Children's|Comedy"),
        ("lion", "The Lion King", "Animation|Children's|Musical"),
        ("aladdin", "Aladdin", "Animation|Children's|Comedy|Musical"),
        ("nemo", "Finding Nemo", "Animation|Children's|Comedy"),
        ("shrek", "Shrek", "Animation|Children's|Comedy"),
    ],
    "scifi": [
        ("alien", "Alien", "Horror|Sci-Fi"),
        ("starwars", "Star Wars", "Action|Adventure|Sci-Fi"),
        ("terminator", "The Terminator", "Action|Sci-Fi"),
        ("blade", "Blade Runner", "Sci-Fi|Thriller"),
        ("matrix", "The Matrix", "Action|Sci-Fi"),
    ],
    "war": [
        ("schindler", "Schindler's List", "Drama|War"),
        ("ryan", "Saving Private Ryan", "Action|Drama|War"),
        ("platoon", "Platoon", "Drama|War"),
        ("apocalypse", "Apocalypse Now", "Drama|War"),
        ("jacket", "Full Metal Jacket", "Action|Drama|War"),
    ],
}
USERS_PER_TASTE = 6


def write_catalogue(out: Path) -> Path:
    """interactions.csv + items.csv: user '<taste><n>' watched four of the five films of
    their taste (a different one left out by each user)."""
    out.mkdir(parents=True, exist_ok=True)
    items = pd.DataFrame(
        [{"item_id": i, "title": t, "genres": g} for films in FILMS.values() for i, t, g in films]
    )
    rows = []
    for taste, films in FILMS.items():
        for n in range(USERS_PER_TASTE):
            for j, (item, _, _) in enumerate(films):
                if j != n % len(films):
                    rows.append((f"{taste}{n}", item, 1.0, 1_000_000 + 60 * len(rows)))
    log = pd.DataFrame(rows, columns=["user_id", "item_id", "value", "timestamp"])
    log.to_csv(out / "interactions.csv", index=False)
    items.to_csv(out / "items.csv", index=False)
    return out


def taste_of(item_id: str) -> str:
    return next(t for t, films in FILMS.items() if item_id in {i for i, _, _ in films})


#: quick settings for training the hybrid model on this catalogue
HYBRID_SETTINGS = [
    "epochs=40",
    "factors=8",
    "batch_size=16",
    "lr=0.05",
    "reg=0.01",
    "threads=1",
]


def lmrec(*args: object) -> tuple[int, str]:
    """Run `lmrec ARGS...` in-process; (exit code, output)."""
    result = _runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def trained(minilm: TextEncoder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The catalogue under <root>/films and content, hybrid and ease models trained on
    all of it under <root>/<name>; embeddings cached under <root>/cache."""
    root = tmp_path_factory.mktemp("films")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LMREC_CACHE_DIR", str(root / "cache"))
        data = write_catalogue(root / "films")
        sets = [a for s in HYBRID_SETTINGS for a in ("--set", s)]
        for model, extra in (("content", []), ("hybrid", sets), ("ease", [])):
            code, out = lmrec(
                "train", model, "--data", data, "--protocol", "none", "--out", root / model, *extra
            )
            assert code == 0, out
        yield root
