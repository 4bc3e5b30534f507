"""Errors recorded on a run keep the message and drop the traceback and the SDK's state payload."""

from orchestrators.errors import MAX_ERROR_TEXT, short_error


def test_activity_failure_keeps_the_message_without_the_traceback():
    exc = Exception("Activity function 'fetch_pages' failed: KeyError: 'Id' \n Traceback (most recent call last):\n"
                    '  File "x.py", line 1')
    assert short_error(exc) == "Activity function 'fetch_pages' failed: KeyError: 'Id'"


def test_orchestrator_state_payload_is_dropped_and_length_bounded():
    exc = Exception("boom " * 1000 + '\n\n$OutOfProcData$:{"isDone": false}')
    text = short_error(exc)
    assert "$OutOfProcData$" not in text and len(text) == MAX_ERROR_TEXT
