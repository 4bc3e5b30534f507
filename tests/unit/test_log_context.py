"""Log records carry the ids bound where they were logged, nested bindings add to the outer ones."""

from __future__ import annotations

import logging

import pytest

from shared.core.logcontext import current_ids, install_log_context, log_ids


def test_bound_ids_reach_each_record_and_unbind_on_exit(caplog):
    install_log_context()
    caplog.set_level(logging.INFO, logger="test.logcontext")
    log = logging.getLogger("test.logcontext")
    with log_ids(run_id="run-1", connection_id="acme"):
        with log_ids(stream="Invoice"):
            log.info("inner")
        log.info("outer")
    log.info("after")
    inner, outer, after = caplog.records[-3:]
    assert (inner.run_id, inner.connection_id, inner.stream) == ("run-1", "acme", "Invoice")
    assert (outer.run_id, outer.connection_id) == ("run-1", "acme") and not hasattr(outer, "stream")
    assert not hasattr(after, "run_id") and current_ids() == {}


def test_only_known_ids_bind():
    with pytest.raises(ValueError, match="Unknown log ids"), log_ids(token="x"):
        pass
