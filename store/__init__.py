"""The off-chain database of the engine's actors (see store.db for the API)."""

from store.db import Store, open_store

__all__ = ["Store", "open_store"]
