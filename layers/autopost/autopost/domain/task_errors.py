"""Error names a publish worker reports to the state machine with SendTaskFailure.

statemachines/publish.asl.json catches exactly these (a test compares them). Before it
fails a task, the worker records the error's Russian message on the publication: that
record, not the Cause, is what the user sees (the Cause carries a copy). A short rate limit
never reaches the state machine (the worker delays its own queue message); a long one is
reported as RateLimited after the worker recorded until when to wait (`retry_not_before`).
"""

from enum import StrEnum


class TaskError(StrEnum):
    # Retried after 5, 15 and 60 minutes, then the publication fails.
    PLATFORM_UNAVAILABLE = "PlatformUnavailable"
    # A resumable upload ran out of time in this attempt: continue at once, not a failure.
    UPLOAD_INCOMPLETE = "UploadIncomplete"
    # Waited out by the state machine until the recorded time, without counting as a failure.
    RATE_LIMITED = "RateLimited"
    # Nothing left to publish (removed, or already final): the execution ends quietly.
    PUBLICATION_GONE = "PublicationGone"
    # Final at once, no retry.
    TOKEN_EXPIRED = "TokenExpired"  # noqa: S105 (an error name)
    CLIP_MISSING = "ClipMissing"
    REJECTED = "Rejected"
    CONNECTION_MISSING = "ConnectionMissing"


class TaskFailure(Exception):
    """Ends an upload task with `error`; `message` is what the user reads."""

    def __init__(self, error: TaskError, message: str) -> None:
        self.error = error
        self.message = message
        super().__init__(message)
