"""The rule every user, item, event and request id meets, in files and over HTTP, on
SQLite and PostgreSQL alike: no control characters. NUL cannot be stored in a
PostgreSQL text column at all, and the others (tabs, escapes, DEL) are invisible and
nearly always a sign of a broken export."""

from __future__ import annotations

import re

#: C0 control characters and DEL, as a regular expression (pandas and pyarrow take it too)
CONTROL_PATTERN = r"[\x00-\x1f\x7f]"
_CONTROL = re.compile(CONTROL_PATTERN)
#: the same rule as a JSON Schema pattern, so the API document says what is accepted: no
#: control character anywhere, and (for ids) at least one character that is not a space
ID_PATTERN = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
#: free text: anything but NUL
TEXT_PATTERN = r"^[^\x00]*$"


def control_character(text: str) -> str | None:
    """The first control character in `text`, or None."""
    found = _CONTROL.search(text)
    return found.group() if found else None


def id_problem(text: str) -> str | None:
    """Why `text` cannot be an id, or None when it can."""
    found = control_character(text)
    if found is None:
        return None
    return f"the id contains the control character U+{ord(found):04X}; ids must be printable text"


def check_id(text: str) -> str:
    """`text` when it can be an id; ValueError saying why not (for pydantic validators)."""
    problem = id_problem(text)
    if problem is not None:
        raise ValueError(problem)
    return text


def check_path_id(text: str) -> str:
    """An id in a URL path: the id rule, and not blank (nothing is stripped from a path)."""
    if not text.strip():
        raise ValueError("the id is blank; send the id itself")
    return check_id(text)


def check_text(text: str) -> str:
    """Free text (titles, descriptions) keeps tabs and line breaks, but not NUL, which
    PostgreSQL cannot store."""
    if "\x00" in text:
        raise ValueError("the text contains the NUL character U+0000, which cannot be stored")
    return text
