"""Differentially private releases of shared aggregates and the epsilon budgets that pay
for them (the noise itself is :mod:`shipyard.stats.privacy`)."""

from shipyard.privacy.ledger import Budget, PrivacyLedger, Release
from shipyard.privacy.service import PrivacyService, parse_columns, parse_target
from shipyard.stats.privacy import Binning, PrivateColumn, PrivateRelease

__all__ = [
    "Binning",
    "Budget",
    "PrivacyLedger",
    "PrivacyService",
    "PrivateColumn",
    "PrivateRelease",
    "Release",
    "parse_columns",
    "parse_target",
]
