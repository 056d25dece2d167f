"""The import body as a stream of text: decoded chunk by chunk, handed to the parser in a worker thread."""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

from tessera_shared.errors import InvalidInput

T = TypeVar("T")
BOM = "\ufeff"


def not_utf8(exc: UnicodeDecodeError, at: int) -> InvalidInput:
    """422 naming the body, with the offset of the first byte that is not UTF-8."""
    return InvalidInput("body", f"the body is not UTF-8 ({exc.reason} at byte {at})")


async def text_pieces(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """UTF-8 text of the chunks (a leading BOM dropped); a character split between chunks is joined."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, first = 0, True  # bytes handed to the decoder so far
    final = False
    while not final:
        chunk = await anext(chunks, None)
        final = chunk is None
        data = b"" if chunk is None else chunk
        pending = len(decoder.getstate()[0])
        try:
            text = decoder.decode(data, final=final)
        except UnicodeDecodeError as exc:
            raise not_utf8(exc, offset - pending + exc.start) from None
        offset += len(data)
        if first and text:
            text, first = text.removeprefix(BOM), False
        if text:
            yield text


def blocking(source: AsyncIterator[T], loop: asyncio.AbstractEventLoop) -> Iterator[T]:
    """A plain iterator over an async one, for a worker thread while ``loop`` runs: the parser
    pulls the body as it needs it, so only a batch of rows is ever held in memory."""

    async def next_item() -> T:
        return await anext(source)

    while True:
        try:
            yield asyncio.run_coroutine_threadsafe(next_item(), loop).result()
        except StopAsyncIteration:
            return
