"""The raw landing zone: every fetched page is kept as a gzip JSON-lines blob and loaded by reference.

A failed load is replayed from the blob, never by calling the (metered) API again.
"""

from __future__ import annotations

import contextlib
import gzip
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContentSettings

from shared.blob.service import blob_service
from shared.core import fastjson
from shared.core.config import StorageTarget


class PageNotFound(LookupError):
    """A page reference that no blob answers to (deleted, or a wrong container)."""


class PageCorrupt(ValueError):
    """A landed page whose body does not decompress (cut short, or not gzip)."""


# The containers this process has made sure exist (by URL): a fetch activity opens a LandingZone of its own, and
# asking the storage account to create the container before every page was a request each (answered 409).
_ENSURED: set[str] = set()

# Level 1 writes a 1,000-invoice page (1.0 MB of JSON lines) in 3.4 ms where level 5 took 8.1 ms, 88 KB against
# 68 KB, and inflates it 0.3 ms slower: the fetch's CPU, shared with the loads on the worker, is the scarcer.
COMPRESS_LEVEL = 1


class LandingZone:
    """Reads and writes landed pages in one blob container."""

    def __init__(self, target: StorageTarget, container: str, *, credential: Any = None) -> None:
        self._service = blob_service(target, credential=credential)
        self._container = self._service.get_container_client(container)

    def _ensure_container(self, *, again: bool = False) -> None:
        if self._container.url in _ENSURED and not again:
            return
        with contextlib.suppress(ResourceExistsError):
            self._container.create_container()
        _ENSURED.add(self._container.url)

    def put_page(self, ref: str, records: Iterable[dict[str, Any]]) -> int:
        """Write (or overwrite: a retried fetch lands the same page again) one page; returns its record count."""
        self._ensure_container()
        lines = [fastjson.dumps_line(record) for record in records]
        count = len(lines)
        body = gzip.compress(b"\n".join(lines) + (b"\n" if lines else b""), compresslevel=COMPRESS_LEVEL)

        def upload() -> None:
            self._container.upload_blob(
                ref,
                body,
                overwrite=True,
                # No Content-Encoding: the SDK would then decompress on download and the blob would not be a plain .gz.
                content_settings=ContentSettings(content_type="application/gzip"),
                metadata={"records": str(count)},
            )
        try:
            upload()
        except ResourceNotFoundError:  # the container went since this process made sure of it
            self._ensure_container(again=True)
            upload()
        return count

    def read_page(self, ref: str) -> Iterator[dict[str, Any]]:
        """The records of a landed page, in their fetched order."""
        for record, _ in self.read_page_text(ref):
            yield record

    def read_page_text(self, ref: str) -> Iterator[tuple[dict[str, Any], bytes]]:
        """Each record of a landed page with the JSON text it was read from (UTF-8), in their fetched order."""
        try:
            raw = self._container.download_blob(ref).readall()
        except ResourceNotFoundError as exc:
            container = self._container.container_name
            raise PageNotFound(f"Landed page {ref!r} is missing from container {container!r}") from exc
        try:
            for line in gzip_lines(raw):
                yield fastjson.loads(line), line
        except (zlib.error, EOFError) as exc:
            raise PageCorrupt(f"Landed page {ref!r} is not a complete gzip body ({exc}); a new sync run fetches "
                              "its records again") from exc


# How much of a page's text is decompressed at a time (gzip_lines).
_INFLATE_BYTES = 256 * 1024


def gzip_lines(body: bytes) -> Iterator[bytes]:
    """The non-empty lines of a gzip body (one member or several), decompressed a block at a time: a page's whole
    text (about 1.5 MB for 1,000 invoices) is never held at once, only the lines its reader keeps. As fast as
    gzip.decompress().split() (measured); gzip.GzipFile's line iterator took twice as long."""
    pending: list[bytes] = []  # the start of a line longer than the blocks read so far (joined once, when it ends)
    while body:
        inflate = zlib.decompressobj(wbits=31)  # 31: a gzip header and trailer around the deflate stream
        while body and not inflate.eof:
            block = inflate.decompress(body, _INFLATE_BYTES)
            body = inflate.unconsumed_tail
            # Split on the newline byte: JSON text escapes every control character, so only line ends match.
            lines = block.split(b"\n")
            if len(lines) == 1:
                pending.append(block)
                continue
            lines[0] = b"".join((*pending, lines[0]))
            pending = [lines.pop()]
            yield from filter(None, lines)
        if not inflate.eof:
            raise EOFError("Compressed page ended before the end-of-stream marker was reached")
        body = inflate.unused_data  # a next member, if the body was written in several
    if last := b"".join(pending):
        yield last


def page_ref(connection_id: str, stream: str, run_id: str, sequence: int) -> str:
    """Deterministic blob name, so the same fetch retried lands on the same blob."""
    return f"{connection_id}/{stream}/{run_id}/{sequence:06d}.jsonl.gz"


def plan_ref(connection_id: str, run_id: str, phase: int, token: str) -> str:
    """Where one phase plan's shards are landed. `token` is new for every planning, so a planning run twice (an
    activity is at least once) never overwrites the shards of the plan the orchestration recorded."""
    return f"{connection_id}/_plans/{run_id}/phase{phase}-{token}"


def plan_shard_ref(ref: str, shard: int) -> str:
    """The blob of shard `shard` of the plan landed under `ref` (plan_ref)."""
    return f"{ref}/{shard:05d}.jsonl.gz"
