"""The service's event store: behaviour events, catalogue additions, served lists."""

from lmrec.events.store import EventStore, events_to_dataset, normalize_url

__all__ = ["EventStore", "events_to_dataset", "normalize_url"]
