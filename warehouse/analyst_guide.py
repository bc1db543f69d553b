"""The analyst's guide: commissioners' questions, each with the query (and metric) that
answers it.

The questions live in ``docs/analyst_questions.yml`` (machine-readable: the integration test
runs every query as ``bi_reader``); ``docs/analyst-guide.md`` is rendered from it here.
``python -m warehouse.analyst_guide`` rewrites the guide; tests/unit/test_analyst_guide.py
fails when it drifts from the questions file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from warehouse.settings import PROJECT_ROOT

QUESTIONS_FILE = PROJECT_ROOT / "docs" / "analyst_questions.yml"
GUIDE_FILE = PROJECT_ROOT / "docs" / "analyst-guide.md"
REQUIRED = ("id", "section", "question", "sql")

INTRO = """\
# Analyst's guide: commissioners' questions and the queries that answer them

<!-- generated from docs/analyst_questions.yml by `python -m warehouse.analyst_guide`;
     edit the questions file, not this one (tests/unit/test_analyst_guide.py checks) -->

The questions commissioners ask, taken from sections 3-5 of the trust's commissioning
strategy, each answered from the `marts` schema. Every query runs as `bi_reader` on the
built default warehouse (tests/integration/test_analyst_questions.py: no error, at least one
row). Where a figure is defined once as a MetricFlow metric
(`dbt_project/models/semantic/_metrics.yml`), the metric is named with the group-by that
gives the same figure:

    cd dbt_project && mf query --metrics need_prevalence \\
        --group-by assessment_need__financial_year,assessment_need__need_area_code

Rules that every need question follows: count each offender once per financial year at
their **latest assessment in the year** (`marts.fct_assessments.is_latest_in_year`, joined
on `assessment_id`); `fct_unit_costs` holds financial years (`fct_unit_costs_monthly` months);
reoffending is by district in `fct_reoffending_summary`, by tier, gender and age band in
`fct_reoffending_outcomes`, by requirement type in `fct_reoffending_by_requirement_type`;
ward need counts offenders with any need in `jsna_ward_need`, each need area in
`jsna_ward_need_areas`.
"""


class QuestionsError(ValueError):
    """The questions file is malformed (names the question and the field)."""


@dataclass(frozen=True)
class Question:
    id: str
    section: str
    question: str
    sql: str
    metric: dict | None = None
    note: str | None = None


def _question(index: int, raw: object) -> Question:
    if not isinstance(raw, dict):
        raise QuestionsError(f"{QUESTIONS_FILE.name}: question {index + 1} is not a mapping")
    missing = [f for f in REQUIRED if not str(raw.get(f) or "").strip()]
    if missing:
        name = raw.get("id", f"number {index + 1}")
        raise QuestionsError(f"{QUESTIONS_FILE.name}: question {name} lacks {', '.join(missing)}")
    unknown = set(raw) - {*REQUIRED, "metric", "note"}
    if unknown:
        raise QuestionsError(f"{QUESTIONS_FILE.name}: question {raw['id']}: unknown {unknown}")
    return Question(**{**raw, "sql": raw["sql"].strip()})


def load_questions(path: Path = QUESTIONS_FILE) -> list[Question]:
    """Every question of the file, in order; ids unique."""
    raw = yaml.safe_load(path.read_text()) or {}
    questions = [_question(i, q) for i, q in enumerate(raw.get("questions") or [])]
    ids = [q.id for q in questions]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise QuestionsError(f"{path.name}: duplicate question ids {duplicates}")
    return questions


def _metric_line(metric: dict) -> str:
    group_by = ",".join(metric.get("group_by") or [])
    by = f" --group-by {group_by}" if group_by else ""
    return f"Metric: `mf query --metrics {metric['name']}{by}`\n\n"


def _entry(number: int, q: Question) -> str:
    text = f"### {number}. {q.question}\n\n```sql\n{q.sql}\n```\n\n"
    if q.metric:
        text += _metric_line(q.metric)
    if q.note:
        text += f"Note: {q.note}\n\n"
    return text


def render(questions: list[Question]) -> str:
    """The guide's markdown: questions grouped by strategy section (in the order each section
    first appears in the file), numbered through."""
    sections: dict[str, list[Question]] = {}
    for q in questions:
        sections.setdefault(q.section, []).append(q)
    parts, number = [INTRO, f"\n{len(questions)} questions.\n"], 0
    for section, members in sections.items():
        parts.append(f"\n## {section}\n\n")
        for q in members:
            number += 1
            parts.append(_entry(number, q))
    return "".join(parts).rstrip() + "\n"


def write_guide() -> Path:
    GUIDE_FILE.write_text(render(load_questions()))
    return GUIDE_FILE


if __name__ == "__main__":  # python -m warehouse.analyst_guide
    print(f"wrote {write_guide()}")
