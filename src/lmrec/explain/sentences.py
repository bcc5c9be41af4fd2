"""One generated sentence per recommended item, from the small language model (the `llm`
extra), grounded in what the template explanation already found: the user's history
items most like the item (`because_of`) and the attribute values they share.

Grounding is by construction, not by hope: the sentence starts with words lmrec writes,
naming the template's first history item and the recommended item ("If you enjoyed
Aladdin (1992), The Lion King (1994) is worth a try because"), and the model only
finishes the reason, told the other history items and shared attributes in its prompt.
An item with no history item to name gets a prefix naming the item alone.

Sentences are generated for a whole list at once (one batched `generate`) and cached by
their prompt for the life of the process (lmrec.encoders.small_lm), so a repeated request
costs no generation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lmrec.encoders.small_lm import SmallLM

SYSTEM = "You explain recommendations to a user in one short sentence."
#: tokens the model may add after the prefix (one clause, about 25 words)
MAX_NEW_TOKENS = 32
#: history items and shared attribute values named in the prompt
_NAMED = 3


@dataclass
class Grounds:
    """What the template explanation says about one recommended item, by title."""

    item: str
    liked: list[str] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)

    def prompt(self) -> tuple[str, str]:
        """(user turn, the start of the answer lmrec writes itself)."""
        facts = []
        if self.liked:
            facts.append(f"You liked {' and '.join(self.liked[:_NAMED])}.")
        facts.append(f"We recommend {self.item}.")
        if self.shared:
            facts.append(f"They share: {', '.join(self.shared[:_NAMED])}.")
        facts.append(f"Why would you like {self.item}?")
        if self.liked:
            start = f"If you enjoyed {self.liked[0]}, {self.item} is worth a try because"
        else:
            start = f"{self.item} is worth a try because"
        return " ".join(facts), start


def sentences(lm: SmallLM, grounds: Sequence[Grounds], *, threads: int | None = None) -> list[str]:
    """One sentence per item: lmrec's grounded start and the model's reason."""
    if not grounds:
        return []
    turns = [g.prompt() for g in grounds]
    prompts = [lm.chat_prompt(SYSTEM, user) + start for user, start in turns]
    reasons = lm.generate_many(prompts, max_new_tokens=MAX_NEW_TOKENS, threads=threads)
    return [_sentence(start, reason) for (_, start), reason in zip(turns, reasons, strict=True)]


def _sentence(start: str, reason: str) -> str:
    """The start and the model's reason cut at its first full stop (a reason the token
    budget cut short ends with an ellipsis)."""
    reason = " ".join(reason.split())
    stop = reason.find(". ")
    if stop >= 0:
        reason = reason[: stop + 1]
    reason = reason.rstrip()
    if not reason:
        return start.rsplit(" because", 1)[0] + "."
    if not reason.endswith((".", "!", "?")):
        reason += "…"
    return f"{start} {reason}"


def titles_of(items: Any, item_ids: Sequence[str]) -> list[str]:
    """Each item's title from an item table (its id where there is no title)."""
    if items is None or "title" not in items.columns:
        return [str(i) for i in item_ids]
    wanted = {str(i) for i in item_ids}
    rows = items[items["item_id"].astype(str).isin(wanted)]
    titles = dict(zip(rows["item_id"].astype(str), rows["title"], strict=True))
    out = []
    for item in item_ids:
        title = titles.get(str(item))
        out.append(" ".join(title.split()) if isinstance(title, str) and title.strip() else item)
    return [str(t) for t in out]


def grounds_of(items: Any, explanations: Sequence[dict[str, Any]]) -> list[Grounds]:
    """Grounds for each template explanation (lmrec.serving.explain's dicts): the item's
    title, the titles of its `because_of` items and its shared attribute values."""
    out = []
    for exp in explanations:
        liked = titles_of(items, [c["item_id"] for c in exp.get("because_of", [])])
        shared = list(dict.fromkeys(a["value"] for a in exp.get("shared_attributes", [])))
        out.append(Grounds(titles_of(items, [exp["item_id"]])[0], liked, shared))
    return out


def explain_in_words(
    items: Any,
    explanations: Sequence[dict[str, Any]],
    *,
    threads: int | None = None,
    device: str | None = None,
) -> list[str]:
    """A sentence for each template explanation, from the process's small language model
    (loaded on first use on `device`: None = a GPU when there is one)."""
    from lmrec.training.device import resolve_device

    lm = SmallLM.shared(str(resolve_device(device)))
    return sentences(lm, grounds_of(items, explanations), threads=threads)
