"""Identities and access: users, API tokens, roles, and the check every request passes.

:mod:`~shipyard.auth.roles` says what each role may do and what each route needs;
:mod:`~shipyard.auth.tokens` makes and checks tokens; :class:`AuthService` keeps users and
tokens in the metadata store; :class:`Authenticator` checks requests in a server process.
"""

from shipyard.auth.guard import Authenticator, Principal
from shipyard.auth.roles import ROLES, Role
from shipyard.auth.service import (
    AuthService,
    NewToken,
    Token,
    User,
    bootstrap,
    read_credentials,
    write_credentials,
)

__all__ = [
    "ROLES",
    "AuthService",
    "Authenticator",
    "NewToken",
    "Principal",
    "Role",
    "Token",
    "User",
    "bootstrap",
    "read_credentials",
    "write_credentials",
]
