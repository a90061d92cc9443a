"""Column policies: sensitive input columns dropped, hashed, encrypted or masked before
anything is written under ``$SHIPYARD_HOME`` (see :mod:`shipyard.privacy.policy`), their
keys (:mod:`shipyard.privacy.keys`) and reading encrypted values back (:func:`reveal`).
The policies themselves are records of :class:`shipyard.privacy.service.ColumnPolicies`."""

from shipyard.privacy.keys import DecryptionError, Keyring, generate_key
from shipyard.privacy.policy import ACTIONS, Action, PolicyBook, PolicyError, Protector
from shipyard.privacy.reveal import reveal

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
