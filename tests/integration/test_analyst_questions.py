"""Every question of the analyst's guide (docs/analyst_questions.yml) answered as bi_reader
on the built default warehouse: the query runs without error and returns at least one row."""

from __future__ import annotations

import psycopg
import pytest

from tests.integration.conftest import BI_PASSWORD
from warehouse.access import READER
from warehouse.analyst_guide import load_questions

QUESTIONS = load_questions()


@pytest.fixture(scope="module")
def reader(default_warehouse):  # type: ignore[no-untyped-def]
    info = default_warehouse.conninfo()
    with psycopg.connect(
        host=info.host,
        port=info.port,
        dbname=info.dbname,
        user=READER,
        password=BI_PASSWORD,
        autocommit=True,
    ) as conn:
        yield conn


@pytest.mark.integration
@pytest.mark.parametrize("question", QUESTIONS, ids=[q.id for q in QUESTIONS])
def test_each_question_is_answered_as_bi_reader(reader, question):  # type: ignore[no-untyped-def]
    with reader.cursor() as cur:
        cur.execute("set statement_timeout = '60s'")
        cur.execute(question.sql)
        rows = cur.fetchall()
    assert rows, f"{question.id}: no rows ({question.question})"
    assert any(value is not None for row in rows for value in row), f"{question.id}: only nulls"
