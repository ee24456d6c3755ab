"""Sentiero: self-hosted, privacy-first session recording, replay and analytics."""

from sentiero.settings import ConfigurationError, Settings
from sentiero.stores.base import Store, StoreError

__version__ = "0.1.0"

__all__ = ["ConfigurationError", "Sentiero", "Settings", "Store", "StoreError", "__version__"]


def __getattr__(name: str):  # lazy: importing sentiero stays cheap for the CLI and tests
    if name == "Sentiero":
        from sentiero.app import Sentiero

        return Sentiero
    raise AttributeError(name)
