"""Domain errors: each carries its HTTP status and a stable snake_case code.

This module knows nothing of the web framework; ``service.app`` renders these.
"""

from __future__ import annotations


class SummarizerError(Exception):
    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class MalformedRequest(SummarizerError):
    status, code = 400, "malformed_request"


class Unauthorized(SummarizerError):
    status, code = 401, "unauthorized"


class NotFound(SummarizerError):
    status, code = 404, "not_found"


class BodyTooLarge(SummarizerError):
    status, code = 413, "body_too_large"


class ArticleTooLarge(SummarizerError):
    status, code = 413, "article_too_large"


class UnsupportedMediaType(SummarizerError):
    status, code = 415, "unsupported_media_type"


class InvalidInput(SummarizerError):
    status, code = 422, "invalid_input"


class NoArticleText(SummarizerError):
    """The page (HTML or URL) holds no article text the extractor could find."""

    status, code = 422, "no_article_text"


class UrlNotAllowed(SummarizerError):
    """The URL may not be fetched: its scheme, or an address its host resolves to."""

    status, code = 422, "url_not_allowed"


class FetchFailed(SummarizerError):
    """The page could not be had: an error status, too big, too slow, not HTML."""

    status, code = 502, "fetch_failed"


class RateLimited(SummarizerError):
    status, code = 429, "rate_limited"


class ModelInvalidOutput(SummarizerError):
    """The model did not produce a valid record within the attempt budget."""

    status, code = 502, "model_invalid_output"


class ModelRequestRejected(SummarizerError):
    """The model server refused the request as invalid (a setting to change, not a retry)."""

    status, code = 502, "model_request_rejected"


class ModelUnavailable(SummarizerError):
    status, code = 503, "model_unavailable"


class QueueFull(SummarizerError):
    status, code = 503, "queue_full"


class NotReady(SummarizerError):
    status, code = 503, "not_ready"


class DeadlineExceeded(SummarizerError):
    status, code = 504, "deadline_exceeded"


class DatabaseDamaged(SummarizerError):
    """The database file failed its integrity check; the service does not start on it."""

    status, code = 503, "database_damaged"


class SchemaOutOfDate(SummarizerError):
    """The database's schema is older than this release and migrating at start is off."""

    status, code = 503, "schema_out_of_date"


class ModelFileError(SummarizerError):
    """The bundled model file is missing or does not match its published hash."""

    status, code = 503, "model_file_invalid"


class BatchTooLarge(SummarizerError):
    """More articles in one batch than SUMMARIZER_BATCH_MAX_ITEMS."""

    status, code = 413, "batch_too_large"


class InvalidBatchItem(SummarizerError):
    """An article of a batch is not one POST /v1/summaries would take; the message names it."""

    status, code = 422, "invalid_batch_item"


class WebhookUrlNotAllowed(SummarizerError):
    """A webhook URL the service will not call: its scheme, or an address its host resolves
    to, or no signing secret configured."""

    status, code = 422, "webhook_url_not_allowed"


class BatchFinished(SummarizerError):
    """The batch has ended (done or cancelled): there is nothing left to cancel."""

    status, code = 409, "batch_finished"
