"""Text encoders for the ``knn_vector`` field (see ``docs/encoders.md``).

``TfidfSvdEncoder`` is the default (numpy + scikit-learn, no torch);
``SentenceTransformerEncoder`` needs the ``[neural]`` extra and imports torch only when
it is used.
"""

from .base import (
    Encoder,
    doc_text,
    encoder_types,
    load_encoder,
    make_encoder,
    register_encoder,
)
from .sentence import SentenceTransformerEncoder
from .tfidf_svd import TfidfSvdEncoder

__all__ = [
    "Encoder",
    "SentenceTransformerEncoder",
    "TfidfSvdEncoder",
    "doc_text",
    "encoder_types",
    "load_encoder",
    "make_encoder",
    "register_encoder",
]
