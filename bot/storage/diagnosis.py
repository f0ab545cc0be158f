"""Self-diagnoses: the one in progress per user, the finished results, their anonymous counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import (
    RowMapping,
    delete,
    insert,
    select,
)

from bot.diagnosis.records import (
    FRAGILE,
    MISSING,
    DiagnosticResult,
    DiagnosticSession,
    DiagnosticStats,
    TerritoryStats,
)
from bot.storage.base import (
    Repository,
    check_length,
    dialect_insert,
    ensure_user,
    utc,
)
from bot.storage.schema import (
    diagnostic_results,
    diagnostic_sessions,
)


class DiagnosisRepository(Repository):
    """Self-diagnosis sessions and results."""

    async def load_diagnostic(self, user_id: int) -> DiagnosticSession | None:
        """The user's self-diagnosis in progress, or None."""
        stmt = select(diagnostic_sessions).where(diagnostic_sessions.c.user_id == user_id)
        async with self._tx(write=False) as conn:
            row = (await conn.execute(stmt)).mappings().first()
        if row is None:
            return None
        return DiagnosticSession(
            user_id=row["user_id"],
            answers=_str_map("answers", row["answers"]),
            paused=bool(row["paused"]),
            started_at=row["started_at"],
            updated_at=row["updated_at"],
        )

    async def save_diagnostic(
        self, user_id: int, answers: Mapping[str, str], *, paused: bool = False, now: datetime | None = None
    ) -> None:
        """Store the answers so far (replacing the previous ones), and whether the user paused.

        The first save starts the session (`started_at`); an unknown `user_id` is created as a newcomer.
        """
        stored = _str_map("answers", answers)
        now = utc(now)
        async with self._tx(write=True) as conn:
            await ensure_user(conn, user_id, now)
            stmt = dialect_insert(conn, diagnostic_sessions).values(
                user_id=user_id, answers=stored, paused=paused, started_at=now, updated_at=now
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[diagnostic_sessions.c.user_id],
                    set_={
                        "answers": stmt.excluded.answers,
                        "paused": stmt.excluded.paused,
                        "updated_at": stmt.excluded.updated_at,
                    },
                )
            )

    async def clear_diagnostic(self, user_id: int) -> None:
        """Drop the self-diagnosis in progress, if any (its results are kept)."""
        async with self._tx(write=True) as conn:
            await conn.execute(delete(diagnostic_sessions).where(diagnostic_sessions.c.user_id == user_id))

    async def save_diagnostic_result(
        self,
        user_id: int | None,
        *,
        territory: str | None,
        structure: str | None,
        version: str,
        scores: Mapping[str, int],
        statuses: Mapping[str, str],
        answers: Mapping[str, str],
        clear_progress: bool = True,
        now: datetime | None = None,
    ) -> int:
        """Store a finished self-diagnosis and return its id; an unknown `user_id` is created as a newcomer.

        With `clear_progress` (the default), the user's session in progress is dropped in the same
        transaction, so a restart can never offer to finish a diagnosis already saved.
        """
        if territory is not None:
            check_length("territory", territory, 32)
        if structure is not None:
            check_length("structure", structure, 32)
        check_length("version", version, 16)
        values = {
            "scores": _score_map(scores),
            "statuses": _str_map("statuses", statuses),
            "answers": _str_map("answers", answers),
        }
        now = utc(now)
        async with self._tx(write=True) as conn:
            if user_id is not None:
                await ensure_user(conn, user_id, now)
                if clear_progress:
                    await conn.execute(
                        delete(diagnostic_sessions).where(diagnostic_sessions.c.user_id == user_id)
                    )
            result_id = await conn.scalar(
                insert(diagnostic_results)
                .values(
                    user_id=user_id,
                    created_at=now,
                    territory=territory,
                    structure=structure,
                    questionnaire_version=version,
                    **values,
                )
                .returning(diagnostic_results.c.id)
            )
        assert result_id is not None
        return int(result_id)

    async def diagnostic_results(self, user_id: int, limit: int = 2) -> list[DiagnosticResult]:
        """The user's latest results, newest first (by default the last one and the one before)."""
        stmt = (
            select(diagnostic_results)
            .where(diagnostic_results.c.user_id == user_id)
            .order_by(diagnostic_results.c.created_at.desc(), diagnostic_results.c.id.desc())
            .limit(limit)
        )
        async with self._tx(write=False) as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [diagnostic_result_record(row) for row in rows]

    async def diagnostic_result(self, user_id: int, result_id: int) -> DiagnosticResult | None:
        """Result `result_id` when it is `user_id`'s (None for another person's or an unknown id)."""
        stmt = select(diagnostic_results).where(
            diagnostic_results.c.user_id == user_id, diagnostic_results.c.id == result_id
        )
        async with self._tx(write=False) as conn:
            row = (await conn.execute(stmt)).mappings().first()
        return diagnostic_result_record(row) if row is not None else None

    async def diagnostic_stats(self) -> DiagnosticStats:
        """How often each métier came out "missing" or "fragile", overall and per type of territory.

        Anonymous: only the territory and the statuses of each result are read: no user, no answers.
        """
        stmt = select(diagnostic_results.c.territory, diagnostic_results.c.statuses)
        missing: Counter[str] = Counter()
        fragile: Counter[str] = Counter()
        metiers: set[str] = set()
        per_territory: Counter[str | None] = Counter()
        missing_per_territory: dict[str | None, Counter[str]] = {}
        async with self._tx(write=False) as conn:
            rows = (await conn.execute(stmt)).all()
        for territory, raw in rows:
            statuses = _str_map("statuses", raw)
            metiers.update(statuses)
            per_territory[territory] += 1
            territory_missing = missing_per_territory.setdefault(territory, Counter())
            for metier, status in statuses.items():
                if status == MISSING:
                    missing[metier] += 1
                    territory_missing[metier] += 1
                elif status == FRAGILE:
                    fragile[metier] += 1

        def by_metier(counts: Counter[str]) -> dict[str, int]:
            return {metier: counts[metier] for metier in sorted(metiers)}

        territories = [
            TerritoryStats(
                territory=territory, diagnostics=count, missing=by_metier(missing_per_territory[territory])
            )
            for territory, count in sorted(
                per_territory.items(), key=lambda item: (-item[1], item[0] is None, item[0] or "")
            )
        ]
        return DiagnosticStats(
            diagnostics=len(rows),
            missing=by_metier(missing),
            fragile=by_metier(fragile),
            territories=territories,
        )


def diagnostic_result_record(row: RowMapping) -> DiagnosticResult:
    return DiagnosticResult(
        id=row["id"],
        user_id=row["user_id"],
        created_at=row["created_at"],
        territory=row["territory"],
        structure=row["structure"],
        version=row["questionnaire_version"],
        scores=_score_map(row["scores"]),
        statuses=_str_map("statuses", row["statuses"]),
        answers=_str_map("answers", row["answers"]),
    )


def _str_map(name: str, value: object) -> dict[str, str]:
    """`value` as a new dict of strings (order kept); ValueError if it is anything else."""
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError(f"{name}: expected a dict of strings to strings, got {value!r}")
    return dict(value)


def _score_map(value: object) -> dict[str, int]:
    """`value` as a new dict of métier id → score, each an int from 0 to 100; ValueError otherwise."""
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and type(v) is int and 0 <= v <= 100 for k, v in value.items()
    ):
        raise ValueError(f"scores: expected a dict of strings to integers 0-100, got {value!r}")
    return dict(value)
