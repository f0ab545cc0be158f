"""The batcher: questions on their way join the batch being formed; a lone question is not held back."""

from __future__ import annotations

import asyncio

from bot.qa.batcher import Batcher


class RecordingSearcher:
    """Stands for the batch's work: answers each question with its own text, records the batches."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    async def search_many(self, questions: list[str]) -> list[str]:
        self.batches.append(list(questions))
        return [f"answer to {q}" for q in questions]


async def test_questions_announced_together_share_one_model_call() -> None:
    searcher = RecordingSearcher()
    batcher = Batcher(searcher.search_many, gather_wait=30.0)

    async def person(n: int) -> object:
        with batcher.coming():
            await asyncio.sleep(0.01 * n)  # each person's own database and HTTP round trips
        return await batcher.submit(f"question {n}")

    try:
        answers = await asyncio.wait_for(asyncio.gather(*(person(n) for n in range(5))), 10)
    finally:
        await batcher.close()
    assert answers == [f"answer to question {n}" for n in range(5)]
    assert searcher.batches == [[f"question {n}" for n in range(5)]]


async def test_a_lone_question_is_not_held_for_the_gathering_window() -> None:
    searcher = RecordingSearcher()
    batcher = Batcher(searcher.search_many, gather_wait=60.0)
    try:
        with batcher.coming():
            pass
        answer = await asyncio.wait_for(batcher.submit("seul"), 10)  # hang guard, far below the window
    finally:
        await batcher.close()
    assert answer == "answer to seul"
    assert searcher.batches == [["seul"]]


async def test_an_announcement_that_never_asks_does_not_stall_the_others() -> None:
    searcher = RecordingSearcher()
    batcher = Batcher(searcher.search_many, gather_wait=30.0)
    gone = asyncio.Event()

    async def gives_up() -> None:
        with batcher.coming():
            await gone.wait()  # e.g. the typing action failed: no search follows

    quitter = asyncio.create_task(gives_up())
    try:
        asking = asyncio.create_task(batcher.submit("reste"))
        await asyncio.sleep(0.05)
        gone.set()
        answer = await asyncio.wait_for(asking, 10)
    finally:
        await quitter
        await batcher.close()
    assert answer == "answer to reste"
    assert searcher.batches == [["reste"]]


async def test_a_batch_formed_while_another_runs_starts_at_once_on_a_second_stream() -> None:
    release, started = asyncio.Event(), []

    async def run(questions: list[str]) -> list[str]:
        started.append(list(questions))
        if questions == ["first"]:
            await release.wait()  # the first batch keeps its stream busy
        return [f"answer to {q}" for q in questions]

    batcher = Batcher(run, parallel=2)
    try:
        first = asyncio.create_task(batcher.submit("first"))
        await asyncio.sleep(0.05)
        second = await asyncio.wait_for(batcher.submit("second"), 5)  # not held behind the first
        assert second == "answer to second" and not first.done()
        release.set()
        assert await asyncio.wait_for(first, 5) == "answer to first"
    finally:
        await batcher.close()
    assert started == [["first"], ["second"]]


async def test_with_one_stream_a_batch_waits_for_the_one_running_and_grows_meanwhile() -> None:
    release, started = asyncio.Event(), []

    async def run(questions: list[str]) -> list[str]:
        started.append(list(questions))
        if questions == ["first"]:
            await release.wait()
        return [f"answer to {q}" for q in questions]

    batcher = Batcher(run, parallel=1)
    try:
        first = asyncio.create_task(batcher.submit("first"))
        await asyncio.sleep(0.05)
        later = [asyncio.create_task(batcher.submit(f"q{n}")) for n in range(3)]
        await asyncio.sleep(0.05)
        assert started == [["first"]]
        release.set()
        await asyncio.wait_for(asyncio.gather(first, *later), 5)
    finally:
        await batcher.close()
    assert started == [["first"], ["q0", "q1", "q2"]]
