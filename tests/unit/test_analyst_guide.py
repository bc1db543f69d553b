"""The analyst's guide: generated from docs/analyst_questions.yml, never drifting from it;
every question answered by one query over the marts, every named metric defined."""

from __future__ import annotations

import re

import pytest
import yaml

from warehouse.analyst_guide import (
    GUIDE_FILE,
    QuestionsError,
    load_questions,
    render,
)
from warehouse.settings import PROJECT_ROOT

METRICS_FILE = PROJECT_ROOT / "dbt_project" / "models" / "semantic" / "_metrics.yml"
RELATION = re.compile(r"\b(?:from|join)\s+([a-z_]+)\.([a-z_]+)", re.IGNORECASE)


def test_the_guide_is_the_rendering_of_the_questions_file():
    assert GUIDE_FILE.read_text() == render(load_questions()), (
        "docs/analyst-guide.md drifted: run `python -m warehouse.analyst_guide`"
    )


def test_at_least_35_questions_each_with_one_query_over_the_marts_only():
    questions = load_questions()
    assert len(questions) >= 35
    for q in questions:
        relations = RELATION.findall(q.sql)
        assert relations, f"{q.id}: reads no schema-qualified relation"
        assert {schema for schema, _ in relations} == {"marts"}, f"{q.id}: reads {relations}"
        assert ";" not in q.sql.rstrip(";"), f"{q.id}: more than one statement"


def test_every_metric_a_question_names_is_defined_in_the_semantic_layer():
    defined = {m["name"] for m in yaml.safe_load(METRICS_FILE.read_text())["metrics"]}
    named = {q.metric["name"] for q in load_questions() if q.metric}
    assert named and named <= defined, f"undefined metrics: {named - defined}"


def test_a_question_without_its_query_is_named_in_the_error(tmp_path):
    path = tmp_path / "questions.yml"
    path.write_text(
        "questions:\n"
        "  - {id: fine, section: s, question: a question, sql: select 1 from marts.dim_tier}\n"
        "  - {id: broken, section: s, question: a question}\n"
    )
    with pytest.raises(QuestionsError, match=r"question broken lacks sql"):
        load_questions(path)


def test_duplicate_ids_are_refused(tmp_path):
    path = tmp_path / "questions.yml"
    entry = "  - {id: twice, section: s, question: a question, sql: select 1 from marts.dim_tier}\n"
    path.write_text("questions:\n" + entry + entry)
    with pytest.raises(QuestionsError, match=r"duplicate question ids \['twice'\]"):
        load_questions(path)
