"""Pure statistics: reference profiles, data fingerprints (numpy/pandas/scipy, no I/O)."""

from shipyard.stats._columns import QUANTILE_LEVELS, ProfileKind, quantile_key
from shipyard.stats.fingerprint import DataFingerprint, fingerprint
from shipyard.stats.profile import (
    ColumnProfile,
    DatasetProfile,
    Histogram,
    profile_frame,
    profile_series,
    profile_values,
)

__all__ = [
    "ColumnProfile",
    "DataFingerprint",
    "DatasetProfile",
    "Histogram",
    "ProfileKind",
    "QUANTILE_LEVELS",
    "fingerprint",
    "profile_frame",
    "profile_series",
    "profile_values",
    "quantile_key",
]
