"""Every error a user can cause, under one root.

The hierarchy::

    ShipyardError                      (500) root; carries an HTTP status and a message
    ├── InvalidInputError              (400) an argument or a request is malformed
    │   ├── InvalidNameError           (400) a model, alias or artifact name is not allowed
    │   ├── InvalidURIError            (400) not a models:/NAME@ALIAS or models:/NAME/VERSION URI
    │   └── SignatureError             (422) input rows do not match a version's signature
    │   └── PayloadTooLargeError       (413) a request body over the configured limit
    ├── UnauthorizedError              (401) no API token, or an unknown, expired or revoked one
    ├── ForbiddenError                 (403) the token's role or scope does not allow this
    ├── RateLimitedError               (429) the token sent more requests than its limit allows
    ├── UntrustedArtifactError         (400) a pickle or unknown type needs an explicit trust flag
    ├── MissingDependencyError         (400) a flavor's library is not installed
    ├── UnsupportedModelError          (400) no runtime knows this kind of model
    ├── NotFoundError                  (404)
    │   ├── ModelNotFoundError
    │   ├── VersionNotFoundError
    │   ├── AliasNotFoundError
    │   ├── EndpointNotFoundError
    │   ├── RolloutNotFoundError
    │   ├── JobNotFoundError
    │   ├── ScheduleNotFoundError
    │   ├── MonitorNotFoundError
    │   ├── AlertRuleNotFoundError
    │   ├── AlertNotFoundError
    │   ├── UserNotFoundError
    │   └── TokenNotFoundError
    ├── ConflictError                  (409) the change contradicts the current state
    │   └── PrivacyBudgetError         (409) a release would spend more epsilon than is left
    ├── ArtifactIntegrityError         (500) a stored artifact is missing or was altered
    ├── ModelFailedError               (500) the model raised on valid input, no fallback
    ├── CircuitOpenError               (503) the model is paused after repeated failures
    ├── ModelTimeoutError              (504) the model ran out of time, no fallback
    ├── DatabaseError                  (503) the metadata store cannot be reached or migrated
    ├── ServerUnreachableError         (503) the client cannot reach a Shipyard server
    ├── EndpointUnavailableError       (503) an endpoint's current revision cannot be served
    └── ConfigurationError             (500) settings are inconsistent

Third-party errors are translated at the boundary (``raise Ours(...) from exc``), and
one handler maps any of these to an HTTP reply or a one-line CLI message.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import ClassVar


class ShipyardError(Exception):
    """Root of every error a user can cause.

    ``message`` says what went wrong and what to do about it; ``status_code`` is the
    HTTP status the REST layer answers with.
    """

    status_code: ClassVar[int] = 500

    def __init__(self, message: str | None = None, *, status_code: int | None = None) -> None:
        if status_code is not None:
            self.status_code = status_code  # type: ignore[misc]
        self.message = message or HTTPStatus(self.status_code).phrase
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class InvalidInputError(ShipyardError):
    status_code = 400


class InvalidNameError(InvalidInputError):
    status_code = 400


class InvalidURIError(InvalidInputError):
    status_code = 400


class SignatureError(InvalidInputError):
    """Input rows do not match the signature; ``column`` and ``row`` locate the first offence."""

    status_code = 422

    def __init__(self, message: str, *, column: str | None = None, row: int | None = None) -> None:
        super().__init__(message)
        self.column = column
        self.row = row


class PayloadTooLargeError(InvalidInputError):
    status_code = 413


class UnauthorizedError(ShipyardError):
    """The request carries no valid API token (``Authorization: Bearer <token>``)."""

    status_code = 401


class ForbiddenError(ShipyardError):
    """The caller's token is valid but its role or scope does not allow the request."""

    status_code = 403


class RateLimitedError(ShipyardError):
    """The token sent more requests than its rate limit; ``retry_after`` seconds until the
    next one is allowed (answered as the ``Retry-After`` header)."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def error_headers(exc: ShipyardError) -> dict[str, str]:
    """HTTP headers an error's answer carries besides its body: ``WWW-Authenticate`` on
    401, ``Retry-After`` on 429."""
    if isinstance(exc, UnauthorizedError):
        return {"WWW-Authenticate": 'Bearer realm="shipyard"'}
    if isinstance(exc, RateLimitedError):
        return {"Retry-After": str(exc.retry_after)}
    return {}


class UntrustedArtifactError(ShipyardError):
    status_code = 400


class MissingDependencyError(ShipyardError):
    status_code = 400


class UnsupportedModelError(ShipyardError):
    status_code = 400


class NotFoundError(ShipyardError):
    status_code = 404


class ModelNotFoundError(NotFoundError):
    pass


class VersionNotFoundError(NotFoundError):
    pass


class EndpointNotFoundError(NotFoundError):
    """No endpoint (or no such revision of it) by that name."""


class AliasNotFoundError(NotFoundError):
    pass


class RolloutNotFoundError(NotFoundError):
    """No rollout (or no running or paused one) on that endpoint."""


class JobNotFoundError(NotFoundError):
    """No batch job with that id."""


class ScheduleNotFoundError(NotFoundError):
    """No batch schedule by that name."""


class MonitorNotFoundError(NotFoundError):
    """No monitor by that name."""


class AlertRuleNotFoundError(NotFoundError):
    """No alert rule by that name."""


class AlertNotFoundError(NotFoundError):
    """No alert with that id."""


class UserNotFoundError(NotFoundError):
    """No user by that name."""


class TokenNotFoundError(NotFoundError):
    """No API token with that key."""


class ConflictError(ShipyardError):
    status_code = 409


class PrivacyBudgetError(ConflictError):
    """A differentially private release would spend more epsilon than its budget has
    left; nothing was released or recorded."""


class ArtifactIntegrityError(ShipyardError):
    status_code = 500


class DatabaseError(ShipyardError):
    status_code = 503


class ServerUnreachableError(ShipyardError):
    """:class:`shipyard.Client` could not connect to the server, or it did not answer in time."""

    status_code = 503


class EndpointUnavailableError(ShipyardError):
    """An endpoint's current revision could not be loaded (say a version's file is
    damaged); the data plane serves its other endpoints meanwhile."""

    status_code = 503


class ConfigurationError(ShipyardError):
    status_code = 500


class ModelFailedError(ShipyardError):
    status_code = 500


class CircuitOpenError(ShipyardError):
    status_code = 503


class ModelTimeoutError(ShipyardError):
    status_code = 504
