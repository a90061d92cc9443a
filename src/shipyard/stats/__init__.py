"""Pure statistics: reference profiles, data fingerprints (numpy/pandas/scipy, no I/O)."""

from shipyard.stats.fingerprint import DataFingerprint, fingerprint
from shipyard.stats.profile import (
    QUANTILE_LEVELS,
    ColumnProfile,
    DatasetProfile,
    Histogram,
    ProfileKind,
    profile_frame,
    profile_series,
    profile_values,
    quantile_key,
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
