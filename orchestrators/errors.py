"""Turning a failed task into a short, safe error text for the run's audit."""

MAX_ERROR_TEXT = 1000


def short_error(exc: BaseException) -> str:
    """First line of the failure, bounded: exception texts end up in history and status."""
    text = str(exc).split("\n\n$OutOfProcData$")[0].strip() or type(exc).__name__
    # An activity failure carries its traceback after the message: the audit keeps the message.
    text = text.split("\n Traceback")[0].split("\nTraceback")[0].strip()
    return text[:MAX_ERROR_TEXT]
