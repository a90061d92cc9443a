"""Signatures: the input and output schema of a model version.

A :class:`Signature` is inferred from a training sample at registration and checks
every input afterwards. It never casts silently: an integer in a float column is
fine (it is widened), a string in a float column, a float in an integer column or a
missing value where training had none is a :class:`~shipyard.errors.SignatureError`
naming the column, the row and the value."""

from shipyard.schema.signature import MAX_LISTED_CATEGORIES, ColumnSpec, OutputSpec, Signature
from shipyard.schema.types import Kind, OutputKind, Rows

__all__ = [
    "MAX_LISTED_CATEGORIES",
    "ColumnSpec",
    "Kind",
    "OutputKind",
    "OutputSpec",
    "Rows",
    "Signature",
]
