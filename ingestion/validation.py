"""Row-level validation of a delivered file: type parsing, then the feed's Great Expectations suite.

Two passes over each chunk of rows, both vectorised:

1. ``parse_chunk`` turns the text columns into typed columns (dates, integers, numbers,
   booleans). A value that is not of its declared type (``2007-02-30``, ``12x``) fails here,
   with the value and the reason.
2. ``GxValidator`` runs the feed's suite from ``expectations/gx/<feed>.json`` (required
   fields, code lists, patterns, ranges) on the typed chunk and turns each unexpected row
   into a failure naming the field, the value and the expectation that failed.

The suite JSON is written from the declared schema by ``build_suite`` (``warehouse
expectations``); a test keeps the committed files in step with the declarations.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ingestion.schema import TYPE_REGEX, Feed

EXPECTATIONS_DIR = Path(__file__).resolve().parents[1] / "expectations" / "gx"


@dataclass(frozen=True)
class RowFailure:
    """Why one row (by its position in the chunk) cannot be loaded."""

    index: int
    field: str
    value: str | None
    reason: str


# -- suites -------------------------------------------------------------------------------
def build_suite(feed: Feed) -> dict[str, Any]:
    """The GX suite (as JSON) for a feed, derived from its declared schema."""
    expectations: list[dict[str, Any]] = []

    def add(kind: str, column: str, rule: str, **kwargs: Any) -> None:
        expectations.append(
            {"type": kind, "kwargs": {"column": column, **kwargs}, "meta": {"rule": rule}}
        )

    for col in feed.columns:
        if col.required:
            add("expect_column_values_to_not_be_null", col.name, "required field is missing")
        if col.codes is not None:
            add(
                "expect_column_values_to_be_in_set",
                col.name,
                "unknown code",
                value_set=list(col.codes),
            )
        if col.pattern is not None:
            add(
                "expect_column_values_to_match_regex",
                col.name,
                "does not match the expected format",
                regex=col.pattern,
            )
        if col.min_value is not None or col.max_value is not None:
            add(
                "expect_column_values_to_be_between",
                col.name,
                "out of range",
                min_value=col.min_value,
                max_value=col.max_value,
            )
    return {
        "name": f"{feed.name}_suite",
        "expectations": expectations,
        "meta": {"feed": feed.name, "generated_from": "ingestion.feeds (declared schema)"},
    }


def suite_path(feed: Feed) -> Path:
    return EXPECTATIONS_DIR / f"{feed.name}.json"


def write_suite(feed: Feed) -> Path:
    path = suite_path(feed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(build_suite(feed), indent=2, sort_keys=True) + "\n")
    return path


def load_suite(feed: Feed) -> dict[str, Any]:
    path = suite_path(feed)
    if not path.exists():
        raise FileNotFoundError(
            f"no Great Expectations suite for feed {feed.name} at {path}; "
            "run `warehouse expectations` to write it"
        )
    return json.loads(path.read_text())


# -- pass 1: types ------------------------------------------------------------------------
def parse_chunk(feed: Feed, chunk: pd.DataFrame) -> tuple[pd.DataFrame, list[RowFailure]]:
    """Typed copy of ``chunk`` (text columns, ``None`` for empty) and the type failures."""
    failures: list[RowFailure] = []
    typed: dict[str, pd.Series] = {}
    for col in feed.columns:
        text = chunk[col.name]
        present = text.notna()
        if col.type == "text":
            typed[col.name] = text
            continue
        well_formed = text.str.fullmatch(TYPE_REGEX[col.type]).fillna(False).astype(bool)
        if col.type == "date":
            values = pd.to_datetime(text.where(well_formed), format="%Y-%m-%d", errors="coerce")
            ok = values.notna()
            typed[col.name] = pd.Series(values.dt.date, index=text.index, dtype=object).where(
                ok, None
            )
            kind = "not a valid date (YYYY-MM-DD)"
        elif col.type in ("int", "numeric"):
            values = pd.to_numeric(text.where(well_formed), errors="coerce")
            ok = values.notna()
            typed[col.name] = values.astype("Int64" if col.type == "int" else "Float64")
            kind = "not a whole number" if col.type == "int" else "not a number"
        else:  # bool
            ok = well_formed
            typed[col.name] = text.where(ok).map({"1": True, "0": False}).astype("boolean")
            kind = "not a boolean (0 or 1)"
        bad = present & ~ok
        for idx in bad[bad].index:
            failures.append(RowFailure(int(idx), col.name, str(text.at[idx]), kind))
    frame = pd.DataFrame(typed, index=chunk.index)
    return frame, failures


# -- pass 2: Great Expectations -----------------------------------------------------------
class GxValidator:
    """Runs a feed's GX suite on typed chunks; one ephemeral GX context per validator."""

    def __init__(self, feed: Feed) -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.feed = feed
        spec = load_suite(feed)
        self._rules = {
            (e["type"], e["kwargs"]["column"]): e.get("meta", {}).get("rule", e["type"])
            for e in spec["expectations"]
        }
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = context.data_sources.add_pandas(f"{feed.name}_files")
        asset = source.add_dataframe_asset(name=feed.name)
        self._batch_definition = asset.add_batch_definition_whole_dataframe("chunk")
        self.suite = gx.ExpectationSuite(
            name=spec["name"],
            expectations=[
                gx.expectations.registry.get_expectation_impl(e["type"])(**e["kwargs"])
                for e in spec["expectations"]
            ],
        )

    def validate(self, typed: pd.DataFrame, raw: pd.DataFrame) -> list[RowFailure]:
        """Failures for rows of ``typed``; ``raw`` gives the values as delivered."""
        frame = typed.reset_index(drop=True)
        positions = typed.index
        batch = self._batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(self.suite, result_format={"result_format": "COMPLETE"})
        failures: list[RowFailure] = []
        for item in result.results:
            config = item.expectation_config
            column = config.kwargs["column"]
            if item.exception_info and item.exception_info.get("raised_exception"):
                raise RuntimeError(
                    f"GX expectation {config.type} on {self.feed.name}.{column} could not run: "
                    f"{item.exception_info.get('exception_message')}"
                )
            for pos in item.result.get("unexpected_index_list") or []:
                idx = int(positions[int(pos)])
                value = raw.at[idx, column]
                failures.append(
                    RowFailure(
                        idx,
                        column,
                        None if pd.isna(value) else str(value),
                        self._describe(config.type, column, config.kwargs),
                    )
                )
        return failures

    def _describe(self, kind: str, column: str, kwargs: dict[str, Any]) -> str:
        rule = self._rules.get((kind, column), kind)
        if kind == "expect_column_values_to_be_between":
            return f"{rule} [{kwargs.get('min_value')}, {kwargs.get('max_value')}] ({kind})"
        return f"{rule} ({kind})"
