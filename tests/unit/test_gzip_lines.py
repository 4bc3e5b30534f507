"""A landed page's lines are decompressed a block at a time (shared/blob/landing.py, gzip_lines): the same lines as
decompressing the whole body at once, whatever the line lengths, block edges and gzip members."""

from __future__ import annotations

import gzip
import random
import zlib

import pytest

from shared.blob import landing
from shared.blob.landing import gzip_lines


def lines_of(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(rng.randint(1, 3000)).replace(b"\n", b"") or b"x" for _ in range(count)]


@pytest.mark.parametrize(("count", "block"), [(0, 1), (1, 1), (7, 1), (7, 100), (1000, 4096), (1000, 256 * 1024)])
def test_the_lines_are_those_of_the_whole_body_with_or_without_a_last_newline(count, block, monkeypatch):
    monkeypatch.setattr(landing, "_INFLATE_BYTES", block)  # 1: every line crosses many blocks' edges
    lines = lines_of(count, count)
    body = b"\n".join(lines)
    assert list(gzip_lines(gzip.compress(body + b"\n"))) == lines
    assert list(gzip_lines(gzip.compress(body))) == lines


def test_empty_lines_are_skipped():
    assert list(gzip_lines(gzip.compress(b"\n\na\n\nb\n\n"))) == [b"a", b"b"]


def test_a_line_longer_than_many_blocks_is_read_whole(monkeypatch):
    monkeypatch.setattr(landing, "_INFLATE_BYTES", 1000)
    long = b"y" * 3_000_000  # a record of 3 MB: joined once at its end, not copied again at every block
    assert list(gzip_lines(gzip.compress(b"a\n" + long + b"\nb"))) == [b"a", long, b"b"]


def test_a_body_of_several_gzip_members_reads_as_their_lines_in_order():
    lines = lines_of(20, 3)
    body = gzip.compress(b"\n".join(lines[:9]) + b"\n") + gzip.compress(b"\n".join(lines[9:]))
    assert list(gzip_lines(body)) == lines


def test_a_body_cut_short_or_not_gzip_is_an_error_not_fewer_lines():
    with pytest.raises(EOFError):
        list(gzip_lines(gzip.compress(b"a\nb\n" * 1000)[:-30]))
    with pytest.raises(zlib.error):
        list(gzip_lines(b"not gzip"))
