"""Off-loop, batched search: questions arriving together share one call to the embedding model.

The model runs in a worker thread, so the event loop keeps serving button presses; and under load,
one batch of 30 short questions costs far less than 30 separate encodings.
"""

from __future__ import annotations

import asyncio
import contextlib

from bot.retrieval.search import Answer, Searcher

_Pending = tuple[str, str, asyncio.Future[Answer]]


class BatchingSearcher:
    def __init__(self, searcher: Searcher, max_batch: int = 32) -> None:
        self.searcher = searcher
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task[None] | None = None

    async def search(self, question: str, previous: str = "") -> Answer:
        """The answer to one question (read with `previous` if it is a follow-up to it); raises QuestionError
        at once for an empty or too long question."""
        text = self.searcher.check_question(question)
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._work(self._queue), name="catabot-search")
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        await self._queue.put((text, previous, future))
        return await future

    async def _work(self, queue: asyncio.Queue[_Pending]) -> None:
        while True:
            batch = [await queue.get()]
            while not queue.empty() and len(batch) < self.max_batch:
                batch.append(queue.get_nowait())
            try:
                answers = await asyncio.to_thread(
                    self.searcher.search_many, [t for t, _, _ in batch], previous=[p for _, p, _ in batch]
                )
            except Exception as exc:  # hand the failure to every waiting caller, keep serving
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, _, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
