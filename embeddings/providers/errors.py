"""The named errors of providers: what went wrong, for a person to read, and whether another
try may help (`retryable`)."""

from __future__ import annotations


class EmbeddingError(Exception):
    """A provider failure, named for a person to read. Never carries a secret."""

    retryable = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        return self.message


class EmbeddingsDisabled(EmbeddingError):
    pass


class MissingCredentials(EmbeddingError):
    """No API key configured: nothing was sent."""


class AuthenticationFailed(EmbeddingError):
    """The provider refused the key (401/403). Retrying will not help."""


class ModelNotAvailable(EmbeddingError):
    """The model does not exist there, or is not pulled (404)."""


class ProviderUnreachable(EmbeddingError):
    """Nothing answered at the configured address (connection refused, DNS)."""

    retryable = True


class ProviderTimeout(EmbeddingError):
    retryable = True


class RateLimited(EmbeddingError):
    """429: wait `retry_after` seconds (when the server said) and try again."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerError(EmbeddingError):
    """5xx or an unreadable answer: worth another try, a bounded number of times."""

    retryable = True


class InvalidResponse(EmbeddingError):
    """The answer arrived but is unusable: wrong count, wrong dimension, not a vector."""


class BatchTooLarge(EmbeddingError):
    """The provider refused a request for holding too many texts or tokens. Not retried as it
    is: a job then embeds the batch's items one by one."""


class AddressNotAllowed(EmbeddingError):
    """The provider's configured address is refused by the outbound-address rule: nothing sent."""


class Redirected(EmbeddingError):
    """The provider answered with a redirect, which is never followed (nor its key sent on)."""


class ProviderBusy(EmbeddingError):
    """This server process already has PROVIDER_PAGE_CALLS provider calls open for pages."""
