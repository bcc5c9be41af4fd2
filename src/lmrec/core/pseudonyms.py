"""Keyed hashes of user ids (HMAC-SHA256), for the places that must name a user without
holding the id: the list of forgotten users and the service's logs.

A plain hash of a user id can be reversed by hashing every likely id; a keyed hash cannot
without the secret. The secret comes from $LMREC_ID_SECRET, else from the file
`HOME/id-secret`, made (random, owner-only) on first use, so the service and the command
line of one installation hash alike.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from lmrec.core.paths import lmrec_home
from lmrec.errors import ConfigError

SECRET_ENV = "LMREC_ID_SECRET"
SECRET_FILE = "id-secret"
#: hex characters of a user's keyed hash in log lines (64 bits: short, and collisions among
#: the users of one service are still improbable)
LOG_HASH_CHARS = 16


def id_secret(home: str | Path | None = None, given: str | None = None) -> bytes:
    """The secret: `given`, else $LMREC_ID_SECRET, else HOME/id-secret (created if absent)."""
    text = given or os.environ.get(SECRET_ENV)
    if text:
        if len(text) < 16:
            raise ConfigError(
                f"the id secret ({SECRET_ENV}) needs at least 16 characters; "
                "make one with: python -c 'import secrets; print(secrets.token_hex(32))'"
            )
        return text.encode()
    path = lmrec_home(home) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: two processes starting at once agree on the first file written
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
    text = path.read_text().strip()
    if len(text) < 16:
        raise ConfigError(f"the id secret in {path} is shorter than 16 characters; delete it")
    return text.encode()


def user_key(secret: bytes, user_id: str) -> str:
    """The full keyed hash of a user id (64 hex characters)."""
    return hmac.new(secret, str(user_id).encode(), hashlib.sha256).hexdigest()


def log_pseudonym(secret: bytes, user_id: str) -> str:
    """What log lines show instead of a user id: `u-` and a shortened keyed hash."""
    return "u-" + user_key(secret, user_id)[:LOG_HASH_CHARS]


def secret_id(secret: bytes) -> str:
    """A short name for the secret (not the secret): tells whether two lists of keyed
    hashes were made with the same one."""
    return hmac.new(secret, b"lmrec id secret", hashlib.sha256).hexdigest()[:16]
