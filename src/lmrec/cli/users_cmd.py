"""`lmrec users forget ID` and `lmrec users forgotten`: deleting a user from the event
store, with the deletion kept in an audit table that holds no data of theirs."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from lmrec.cli.common import console, frame_table

app = typer.Typer(help="Users the service keeps: forgetting one.", no_args_is_help=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="event store: sqlite:///PATH or postgresql://... (default $LMREC_HOME/events.db)",
    ),
]


def _store_url(db: str | None) -> str:
    from lmrec.core.paths import lmrec_home

    return db or f"sqlite:///{lmrec_home() / 'events.db'}"


@app.command("forget")
def forget(
    user_id: Annotated[str, typer.Argument(help="the user's id")], db: DbOption = None
) -> None:
    """Forget a user: delete their events and the served lists they asked for or acted
    on, and record the deletion as a keyed hash of the id (the secret is $LMREC_ID_SECRET
    or $LMREC_HOME/id-secret, the service's own). A running service takes the user out of
    its live models at its next registry poll, and every model it loads later forgets
    them on load; `lmrec train --from-store` leaves them out. To take them out of the
    live models at once, ask the service: DELETE /v1/users/ID."""
    from lmrec.core.pseudonyms import id_secret, secret_id, user_key
    from lmrec.events.store import EventStore, redact

    if not user_id.strip():
        raise typer.BadParameter("give the user's id", param_hint="USER_ID")
    secret = id_secret()
    store = EventStore(_store_url(db))
    try:
        store.forgotten_keys(secret_id(secret))  # refuses a store forgotten with another key
        deleted = store.forget_user(user_id, user_key(secret, user_id), secret_id(secret))
    finally:
        store.close()
    console.print(
        f"forgot user {user_id!r} in {redact(store.url)}: deleted {deleted['events_deleted']:,} "
        f"events and {deleted['served_deleted']:,} served-list rows; recorded as "
        f"{user_key(secret, user_id)[:16]}... in the audit table",
        highlight=False,
        soft_wrap=True,
    )


@app.command("forgotten")
def forgotten(db: DbOption = None) -> None:
    """The audit table of deletions: keyed hash, time, and what was deleted."""
    from lmrec.events.store import EventStore

    store = EventStore(_store_url(db))
    try:
        log = store.forget_log()
    finally:
        store.close()
    if log.empty:
        console.print("no user has been forgotten")
        return
    log["forgotten_at"] = [
        time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) for t in log["forgotten_at"]
    ]
    log["user_key"] = log["user_key"].str[:16] + "..."
    console.print(frame_table(log, title="forgotten users (UTC)"))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="users")
