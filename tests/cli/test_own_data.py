"""A shop's own log on the command line: any column names, a catalogue and a user table
with their own id columns, the feedback kind and duplicate policy, the same settings from
a TOML [data] table, and a one-line account of every load."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import pytest

Invoke = Callable[..., tuple[int, str]]
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "shop_log.py"
COLUMNS = "user=customer,item=product,value=weight,time=when"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """events.csv (customer,product,event,weight,when; line 501 has a stray quote),
    products.csv (sku,title,category,description), new_products.csv."""
    spec = importlib.util.spec_from_file_location("shop_log", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("shop")
    module.main(out)
    return out


def inspect_json(invoke: Invoke, *args: object) -> dict:
    code, text = invoke("data", "inspect", *args, "--json")
    assert code == 0, text
    return json.loads(text[text.index("{") :])


def summary_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.startswith("events: read ")]
    assert len(lines) == 1, text
    return lines[0]


def test_train_and_evaluate_with_the_shops_own_columns(
    invoke: Invoke, shop: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ease"
    code, text = invoke(
        "train", "ease", "--data", shop / "events.csv", "--columns", COLUMNS,
        "--on-bad-lines", "skip", "--protocol", "temporal", "--out", out,
    )  # fmt: skip
    assert code == 0, text
    line = summary_line(text)
    assert line.startswith("events: read 2,427 rows; kept ")
    assert "time=when" in line and "implicit feedback" in line
    meta = json.loads((out / "model.json").read_text())
    assert meta["data_options"]["columns"] == {
        "user": "customer", "item": "product", "value": "weight", "timestamp": "when",
    }  # fmt: skip
    # evaluate reads the data exactly as train did (same split, same fingerprint)
    code, text = invoke("evaluate", out, "--json")
    assert code == 0, text
    assert 0 < json.loads(text[text.index("{") :])["ndcg@10"] <= 1


def test_a_weight_column_is_not_read_as_ratings_unless_told(invoke: Invoke, shop: Path) -> None:
    args = (shop / "events.csv", "--columns", COLUMNS, "--on-bad-lines", "skip")
    report = inspect_json(invoke, *args)
    assert report["feedback"] == "implicit"
    assert report["time_range"] is not None  # the `when` column is used
    assert any("value=weight (weights;" in note for note in report["notes"])
    assert inspect_json(invoke, *args, "--feedback", "explicit")["feedback"] == "explicit"


def test_duplicates_are_merged_as_asked_and_a_large_loss_warned(invoke: Invoke, shop: Path) -> None:
    args = ("data", "inspect", shop / "events.csv", "--columns", COLUMNS, "--on-bad-lines", "skip")
    code, text = invoke(*args)  # implicit feedback: repeated events add up, nothing lost
    assert code == 0, text
    assert "merged 1,559 (duplicate (user, item), values summed)" in summary_line(text)
    assert "warning" not in text
    code, text = invoke(*args, "--dedupe", "last")
    assert code == 0, text
    assert "merged 1,559 (duplicate (user, item), kept last)" in summary_line(text)
    warning = next(line for line in text.splitlines() if line.startswith("warning: "))
    assert "64% of the 2,427 rows read are not kept as they were" in warning
    assert "--dedupe sum" in warning
    values = {
        how: inspect_json(invoke, *args[2:], "--dedupe", how)["values"]["max"]
        for how in ("sum", "max", "first")
    }
    assert values["sum"] > values["max"] == 3.0 >= values["first"]


def test_a_stray_quote_is_found_and_costs_one_row(
    invoke: Invoke, shop: Path, tmp_path: Path
) -> None:
    code, text = invoke("data", "inspect", shop / "events.csv", "--columns", COLUMNS)
    assert code == 2
    assert "events.csv, line 501: a quote opened on this line is not closed on it" in text
    assert "1,927 following line(s)" in text
    broken = inspect_json(
        invoke, shop / "events.csv", "--columns", COLUMNS, "--on-bad-lines", "skip"
    )
    assert broken["dropped"] == {"events.csv: unclosed quote": 1}
    assert broken["dropped_lines"] == {"events.csv: unclosed quote": [501]}
    # the same log with the quote removed: every other row is there
    fixed = tmp_path / "events.csv"
    fixed.write_text((shop / "events.csv").read_text().replace('"view', "view"))
    clean = inspect_json(invoke, fixed, "--columns", COLUMNS)
    assert clean["rows_read"] == broken["rows_read"] == 2427
    assert clean["dropped"] == {}
    assert broken["distinct_pairs"] >= clean["distinct_pairs"] - 1


def test_a_catalogue_and_user_table_with_their_own_id_columns(
    invoke: Invoke, shop: Path, tmp_path: Path
) -> None:
    users = tmp_path / "customers.csv"
    users.write_text("id,country\nc001,FR\nc002,DE\n")
    args = (shop / "events.csv", "--columns", COLUMNS, "--on-bad-lines", "skip")
    report = inspect_json(
        invoke, *args, "--items", shop / "products.csv", "--columns", "item_key=sku",
        "--users", users, "--columns", "user_key=id",
    )  # fmt: skip
    assert report["item_columns"] == ["item_id", "title", "category", "description"]
    assert report["items"] == 40
    assert report["user_columns"] == ["user_id", "country"]
    code, text = invoke("data", "inspect", *args, "--items", users)
    assert code == 2
    assert "customers.csv: no id column 'product'" in text
    assert "--columns item_key=NAME" in text


def test_a_toml_data_table_gives_the_same_settings(
    invoke: Invoke, shop: Path, tmp_path: Path
) -> None:
    config = tmp_path / "shop.toml"
    config.write_text(
        f"""
[data]
path = "{shop / "events.csv"}"
items = "{shop / "products.csv"}"
on_bad_lines = "skip"
dedupe = "max"

[data.columns]
user = "customer"
item = "product"
value = "weight"
time = "when"
item_key = "sku"

[model]
reg = 123.0
"""
    )
    report = inspect_json(invoke, "--config", config)
    assert report["items"] == 40 and report["values"]["max"] == 3.0
    assert report["merged"] == {"duplicate (user, item), kept max": 1559}
    # an option on the command line wins over the file
    assert inspect_json(invoke, "--config", config, "--dedupe", "sum")["values"]["max"] > 3
    out = tmp_path / "m"
    code, text = invoke("train", "ease", "--config", config, "--protocol", "none", "--out", out)
    assert code == 0, text
    meta = json.loads((out / "model.json").read_text())
    assert meta["config"]["reg"] == 123.0 and meta["data_options"]["dedupe"] == "max"
    bad = tmp_path / "bad.toml"
    bad.write_text("[data]\nseparator = ';'\n")
    code, text = invoke("data", "inspect", "--config", bad)
    assert code == 2 and "unknown key(s) ['separator'] in [data]" in text


def test_compare_reads_the_data_the_same_way(invoke: Invoke, shop: Path, tmp_path: Path) -> None:
    json_path = tmp_path / "r.json"
    code, text = invoke(
        "compare", "--data", shop / "events.csv", "--columns", COLUMNS,
        "--on-bad-lines", "skip", "--models", "pop,itemknn", "--protocol", "temporal",
        "--json", json_path, "--out-dir", tmp_path / "report",
    )  # fmt: skip
    assert code == 0, text
    assert "dropped 1 (events.csv: unclosed quote: 1 (line 501))" in summary_line(text)
    assert [r["model"] for r in json.loads(json_path.read_text())] == ["pop", "itemknn"]


def test_items_add_names_its_id_column(invoke: Invoke, shop: Path, tmp_path: Path) -> None:
    model = tmp_path / "tfidf"
    code, text = invoke(
        "train", "tfidf", "--data", shop / "events.csv", "--columns", COLUMNS,
        "--items", shop / "products.csv", "--columns", "item_key=sku",
        "--on-bad-lines", "skip", "--protocol", "none", "--out", model,
    )  # fmt: skip
    assert code == 0, text
    new = shop / "new_products.csv"
    code, text = invoke("items", "add", model, "--file", new)
    assert code == 2 and "no 'item_id' column" in text and "--columns item=NAME" in text
    broken = tmp_path / "new.csv"
    broken.write_text(new.read_text() + 'p-x,"Broken\n')
    code, text = invoke("items", "add", model, "--file", broken, "--columns", "item=sku")
    assert code == 2 and "new.csv, line 5: expected 4 fields, found 2" in text
    code, text = invoke(
        "items", "add", model, "--file", broken, "--columns", "item=sku",
        "--on-bad-lines", "skip",
    )  # fmt: skip
    assert code == 0, text
    assert "3 added" in text and "wrong number of fields: 1 (line 5)" in text
    code, text = invoke("recommend", model, "--history", "p-coffee-01,p-coffee-02", "--json")
    assert code == 0, text
    assert "p-coffee-11" in [r["item_id"] for r in json.loads(text)]


@pytest.mark.parametrize(
    "command",
    [("train",), ("evaluate",), ("compare",), ("data", "inspect"), ("search",), ("items", "add")],
)
def test_every_command_that_reads_data_takes_the_data_options(
    invoke: Invoke, command: tuple[str, ...]
) -> None:
    code, text = invoke(*command, "--help")
    assert code == 0
    for option in ("--config", "--columns", "--on-bad-lines"):
        assert option in text


def test_the_toml_example_in_the_docs_reads_the_shop(
    invoke: Invoke, shop: Path, tmp_path: Path
) -> None:
    """docs/data.md's TOML example, as written there, beside a copy of the shop."""
    text = (EXAMPLE.parents[1] / "data.md").read_text()
    toml = text.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "shop").mkdir()
    for name in ("events.csv", "products.csv"):
        (tmp_path / "shop" / name).write_text((shop / name).read_text())
    (tmp_path / "shop" / "customers.csv").write_text("customer,country\nc001,FR\nc002,DE\n")
    config = tmp_path / "this.toml"
    config.write_text(toml)
    report = inspect_json(invoke, "--config", config)
    assert report["items"] == 40 and report["user_columns"] == ["user_id", "country"]
    assert report["merged"] == {"duplicate (user, item), values summed": 1559}
    out = tmp_path / "m"
    code, text = invoke("train", "ease", "--config", config, "--protocol", "none", "--out", out)
    assert code == 0, text
    assert json.loads((out / "model.json").read_text())["config"]["reg"] == 300.0
