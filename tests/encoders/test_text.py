import numpy as np
import pandas as pd
import pytest

from lmrec.encoders import (
    MOVIE_TEMPLATE,
    ItemTextTemplate,
    default_item_template,
    default_user_template,
)
from lmrec.errors import ConfigError

SIMPLE = "{title}[ ({year})][. Genres: {genres}]."


def render(template: str, **columns: list) -> list[str]:
    return ItemTextTemplate(template).render(pd.DataFrame(columns))


def test_full_row() -> None:
    out = render(SIMPLE, title=["Toy Story"], year=[1995], genres=["Animation|Children's|Comedy"])
    assert out == ["Toy Story (1995). Genres: Animation, Children's, Comedy."]


def test_missing_fields_drop_their_segment() -> None:
    out = render(
        SIMPLE,
        title=["Heat", "Casino", None, ""],
        year=pd.array([None, 1995, 1996, None], dtype="Int64"),
        genres=["Action|Crime", None, "Drama", ""],
    )
    assert out == [
        "Heat. Genres: Action, Crime.",
        "Casino (1995).",
        "(1996). Genres: Drama.",
        "",
    ]
    assert not any("None" in t or "nan" in t or "<NA>" in t for t in out)


def test_values_that_mean_missing() -> None:
    # float years (a column with gaps read by pandas) and saved "None"/"nan" strings
    out = render(SIMPLE, title=["A", "B"], year=[1995.0, np.nan], genres=["None", "nan"])
    assert out == ["A (1995).", "B."]


def test_lists_and_pipes_render_as_comma_lists() -> None:
    out = render("{title}[. Tags: {tags}]", title=["X", "Y"], tags=[["warm", "wool"], "a| b |"])
    assert out == ["X. Tags: warm, wool", "Y. Tags: a, b"]


def test_year_in_title_not_repeated() -> None:
    assert render(SIMPLE, title=["Toy Story (1995)"], year=[1995]) == ["Toy Story (1995)."]
    assert render("{title}", title=["Toy Story (1995)"]) == ["Toy Story (1995)"]


def test_aliases_read_recbole_column_names() -> None:
    table = pd.DataFrame(
        {"movie_title": ["Heat"], "release_year": [1995], "class": ["Action|Thriller"]}
    )
    assert ItemTextTemplate(SIMPLE).render(table) == ["Heat (1995). Genres: Action, Thriller."]


def test_optional_segment_with_two_fields_needs_both() -> None:
    out = render("{a}[, {b} and {c}]", a=["x", "y"], b=["1", "1"], c=["2", None])
    assert out == ["x, 1 and 2", "y"]


def test_escaped_brackets_and_braces() -> None:
    assert render("{t} [[new]] {{x}}", t=["A"]) == ["A [new] {x}"]


@pytest.mark.parametrize("bad", ["{a}[ ({b})", "{a}]", "[[{a}][x[{b}]]", "{a}[[x][y[z]]"])
def test_malformed_templates_raise(bad: str) -> None:
    with pytest.raises(ConfigError, match="template"):
        ItemTextTemplate(bad)


def test_render_one_and_fields() -> None:
    t = ItemTextTemplate(SIMPLE)
    assert t.fields == ["title", "year", "genres"]
    assert t.render_one({"title": "Heat", "genres": "Crime"}) == "Heat. Genres: Crime."


def test_default_template_for_movielens_like_tables() -> None:
    table = pd.DataFrame({"item_id": ["1"], "title": ["Heat"], "year": [1995], "genres": ["Crime"]})
    template = default_item_template(table)
    assert template.template == MOVIE_TEMPLATE
    assert template.render(table) == ["Heat (1995). Genres: Crime."]


def test_generic_template_joins_text_columns() -> None:
    table = pd.DataFrame(
        {
            "item_id": ["1", "2"],
            "category": ["Apparel", None],
            "description": ["Cotton shirt", "Warm hat"],
            "name": ["Blue shirt", None],
            "tags": [["cotton", "blue"], None],
            "price": [9.5, 3.0],
            "image_url": ["http://x/1.png", "http://x/2.png"],
        }
    )
    template = default_item_template(table)
    assert template.render(table) == [
        "Blue shirt. Cotton shirt. Category: Apparel. Tags: cotton, blue.",
        "Warm hat.",
    ]


def test_no_table_no_text() -> None:
    assert default_item_template(None).render(pd.DataFrame(index=range(2))) == ["", ""]


def test_user_template() -> None:
    users = pd.DataFrame(
        {
            "user_id": ["1", "2", "3"],
            "age": [24, np.nan, 30],
            "gender": ["M", "F", None],
            "occupation": ["technician", None, None],
            "zip_code": ["85711", "94043", "1"],
        }
    )
    assert default_user_template(users).render(users) == ["age 24, M, technician", "F", "age 30"]
