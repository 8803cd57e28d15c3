"""Data sets: the synthetic sample catalog and readers for the real ones in ``../shared/data``."""

from .locate import shared_data
from .music import MUSIC_FIELDS, iter_spotify, load_spotify
from .products import iter_products, load_labels
from .sample import generate_music_catalog, write_csv, write_jsonl

__all__ = [
    "MUSIC_FIELDS",
    "generate_music_catalog",
    "iter_products",
    "iter_spotify",
    "load_labels",
    "load_spotify",
    "shared_data",
    "write_csv",
    "write_jsonl",
]
