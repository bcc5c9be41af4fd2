"""User ids out of the service's logs: every user id in a logged request line (the path
segment after /users/, the `user_id` query parameter) is replaced by a keyed hash, `u-`
and 16 hex characters (lmrec.core.pseudonyms.log_pseudonym), unless the settings say
`log_user_ids="raw"`.

The same user always gets the same pseudonym under one secret, so an operator can still
follow one user's requests through the logs, and can find them by hashing an id they
know, but the logs alone do not say who the user is. Stack traces of unexpected errors
are not rewritten.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

from lmrec.core.pseudonyms import log_pseudonym

#: loggers whose records carry request paths: uvicorn's access and error logs, and ours
LOGGERS = ("uvicorn.access", "uvicorn.error", "lmrec.serving")
_IN_PATH = re.compile(r"(/users/)([^/?#\s\"]+)")
_IN_QUERY = re.compile(r"([?&]user_id=)([^&#\s\"]*)")


class UserIdFilter(logging.Filter):
    """Rewrites user ids in a record's message and string arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.secret: bytes | None = None

    def scrub(self, text: str) -> str:
        secret = self.secret
        if secret is None or "user" not in text:
            return text

        def hashed(match: re.Match[str]) -> str:
            # a record passes one logger's filters once, so nothing is hashed twice
            raw = match.group(2)
            if not raw:
                return match.group(0)
            return match.group(1) + log_pseudonym(secret, unquote_plus(raw))

        return _IN_QUERY.sub(hashed, _IN_PATH.sub(hashed, text))

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secret is None:
            return True
        if isinstance(record.msg, str):
            record.msg = self.scrub(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self.scrub(a) if isinstance(a, str) else a for a in record.args)
        return True


# One filter per process: loggers are process-wide, so the last service created in a
# process decides (tests create many; a deployment creates one).
_FILTER = UserIdFilter()


def install(secret: bytes, mode: str) -> None:
    """Hash user ids in the service's logs with `secret` (mode "hash"), or leave them
    as they are (mode "raw")."""
    _FILTER.secret = secret if mode == "hash" else None
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
