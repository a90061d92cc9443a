"""Column policies: sensitive input columns dropped, hashed, encrypted or masked before
anything is written under ``$SHIPYARD_HOME`` (see :mod:`shipyard.protection.policy`), their
keys (:mod:`shipyard.protection.keys`) and reading encrypted values back (:func:`reveal`).
The policies themselves are records of :class:`shipyard.protection.service.ColumnPolicies`."""

from shipyard.protection.keys import DecryptionError, Keyring, generate_key
from shipyard.protection.policy import ACTIONS, Action, PolicyBook, PolicyError, Protector
from shipyard.protection.reveal import reveal

__all__ = [
    "ACTIONS",
    "Action",
    "DecryptionError",
    "Keyring",
    "PolicyBook",
    "PolicyError",
    "Protector",
    "generate_key",
    "reveal",
]
