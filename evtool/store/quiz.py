"""Lesson quiz scores, stored beside the run they were answered in (table `quiz`, schema version 3).

The dashboard asks a lesson's questions and judges the answers; when the run
ends, its score is written here against the run's id. `evtool runs` and the
lesson picker read it back. Synchronous (`sqlite3`), imports nothing heavy.
A database from an older evtool has no `quiz` table until something records
into it: the readers then answer with nothing, and never migrate.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evtool.store.errors import StoreError, describe_sqlite_error
from evtool.store.model import utc_now_iso
from evtool.store.schema import connect_sync, migrate_sync


@dataclass(frozen=True)
class QuizScore:
    """One run's quiz: `right` out of `asked` questions with choices."""

    run_id: str
    lesson: str
    right: int
    asked: int
    answers: tuple[dict[str, Any], ...] = ()

    @property
    def label(self) -> str:
        """``2/3``."""
        return f"{self.right}/{self.asked}"


def record_quiz(db_path: Path, run_id: str, lesson: str, right: int, asked: int,
                answers: Sequence[dict[str, Any]] = ()) -> None:
    """Store (or replace) a run's quiz score; a `StoreError` names what went wrong."""
    conn = connect_sync(db_path)
    try:
        migrate_sync(conn)
        conn.execute("INSERT OR REPLACE INTO quiz (run_id, lesson, correct, asked, answers, at) "
                     "VALUES (?, ?, ?, ?, ?, ?)",
                     (run_id, lesson, int(right), int(asked), json.dumps(list(answers)), utc_now_iso()))
    except sqlite3.Error as exc:
        raise StoreError(describe_sqlite_error(db_path, exc)) from exc
    finally:
        conn.close()


def _read(db_path: Path, sql: str, params: Sequence[Any]) -> list[Any]:
    """Run a read-only query, the way `evtool.store.aio.open_reader` opens a database: `mode=ro`, then
    `immutable` (a read-only file system) when no unfinished `-wal` file could hold later commits."""
    path = Path(db_path)
    if not path.exists():
        return []
    base = path.resolve().as_uri()
    wal = Path(f"{path}-wal")
    attempts = [f"{base}?mode=ro"]
    if not (wal.exists() and wal.stat().st_size > 0):
        attempts.append(f"{base}?mode=ro&immutable=1")
    last: sqlite3.Error | None = None
    for uri in attempts:
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=10.0)
        except sqlite3.Error as exc:
            last = exc
            continue
        try:
            return conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []  # an older database: nobody answered a quiz in it yet
            last = exc
        finally:
            conn.close()
    raise StoreError(describe_sqlite_error(path, last or sqlite3.Error("cannot read")))


def _score(row: Any) -> QuizScore:
    try:
        answers = tuple(json.loads(row[4] or "[]"))
    except ValueError:
        answers = ()
    return QuizScore(run_id=row[0], lesson=row[1], right=int(row[2]), asked=int(row[3]), answers=answers)


def quiz_scores(db_path: Path, run_ids: Iterable[str]) -> dict[str, QuizScore]:
    """The quiz score of each of these runs that has one."""
    ids = list(run_ids)
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    sql = f"SELECT run_id, lesson, correct, asked, answers FROM quiz WHERE run_id IN ({marks})"
    rows = _read(db_path, sql, ids)
    return {r[0]: _score(r) for r in rows}


def lesson_scores(db_path: Path) -> dict[str, tuple[QuizScore, QuizScore]]:
    """For each lesson: (its best score, its latest score)."""
    rows = _read(db_path, "SELECT run_id, lesson, correct, asked, answers FROM quiz ORDER BY at, rowid", ())
    out: dict[str, tuple[QuizScore, QuizScore]] = {}
    for r in rows:
        score = _score(r)
        best = out.get(score.lesson, (score, score))[0]
        if score.asked and (score.right / score.asked) > (best.right / max(1, best.asked)):
            best = score
        out[score.lesson] = (best, score)
    return out
