"""Turning a failed task into a short, safe error text for the run's audit."""

MAX_ERROR_TEXT = 1000


def short_error(exc: BaseException) -> str:
    """First line of the failure, bounded: exception texts end up in history and status."""
    text = str(exc).split("\n\n$OutOfProcData$")[0].strip() or type(exc).__name__
    return text[:MAX_ERROR_TEXT]
