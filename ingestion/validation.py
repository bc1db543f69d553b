"""Row-level validation of a delivered file with the feed's Great Expectations suite.

The loader COPYs a file into its own staging table first (types are checked by PostgreSQL
there: a value that is not a valid date or number is skipped and reported with its line,
column and value). ``GxValidator`` then runs the feed's suite from
``expectations/gx/<feed>.json`` (required fields, code lists, patterns, ranges) against
that staging table, inside PostgreSQL, and returns each unexpected row as a failure naming
the line, field, value and the expectation that failed.

Two passes keep it fast: GX runs the whole suite with ``BOOLEAN_ONLY`` (one aggregate
scan) and decides which expectations the file fails; then the failing rows of those
expectations are read in SQL written from the same suite (``condition_sql``), from a small
table of suspects. GX is asked for ``COMPLETE`` results only where that SQL finds nothing
for an expectation GX failed (it never has). Asking GX for the rows cost ~70 ms a file in
GX's own Python (100 ms for the first pass), over a second for every hundred files.

The suite JSON is written from the declared schema by ``build_suite`` (``warehouse
expectations``); a test keeps the committed files in step with the declarations.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ingestion import gx_expectations, gx_kwargs  # noqa: F401 - gx_kwargs installs itself
from ingestion.load_records import LINE_COLUMN, RowFailure
from ingestion.schema import Feed

EXPECTATIONS_DIR = Path(__file__).resolve().parents[1] / "expectations" / "gx"
COMPLETE = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": [LINE_COLUMN],
    "return_unexpected_index_query": False,
    # GX caps the rows it returns from SQL at this number (20 by default)
    "partial_unexpected_count": 2**31 - 1,
}


# -- suites -------------------------------------------------------------------------------
# a kind of rule: the column expectation it stands for, what a failing row is told, and
# the custom expectation that checks all the feed's columns under it at once
RULES = {
    "required": ("expect_column_values_to_not_be_null", "required field is missing"),
    "codes": ("expect_column_values_to_be_in_set", "unknown code"),
    "pattern": ("expect_column_values_to_match_regex", "does not match the expected format"),
    "range": ("expect_column_values_to_be_between", "out of range"),
}
GROUPED = {
    gx_expectations.NOT_NULL: ("required", None),
    gx_expectations.IN_SETS: ("codes", "value_sets"),
    gx_expectations.MATCH_REGEXES: ("pattern", "regexes"),
    gx_expectations.WITHIN_BOUNDS: ("range", "bounds"),
}


def build_suite(feed: Feed) -> dict[str, Any]:
    """The GX suite (as JSON) for a feed, derived from its declared schema: one
    expectation per kind of rule, over every column it applies to (a GX validation costs
    per expectation; see ``ingestion.gx_expectations``).

    Columns are named as in the raw table (lower case). Types are not expectations: the
    typed COPY into the staging table enforces them.
    """
    expectations = [
        _grouped_spec(kind, columns) for kind, columns in _columns_per_rule(feed).items() if columns
    ]
    for (low, high), names in sorted(_range_groups_by_bounds(feed).items()):
        # one greatest()/least() condition for all of them (see ingestion.gx_expectations)
        expectations.append(
            {
                "type": gx_expectations.EXPECTATION,
                "kwargs": {
                    "column_list": [feed.column(n).db_name for n in names],
                    "min_value": low,
                    "max_value": high,
                },
                "meta": {"rule": "out of range"},
            }
        )
    return {
        "name": f"{feed.name}_suite",
        "expectations": expectations,
        "meta": {"feed": feed.name, "generated_from": "ingestion.feeds (declared schema)"},
    }


def _columns_per_rule(feed: Feed) -> dict[str, dict[str, Any]]:
    """Grouped expectation -> {column: its codes, pattern or [min, max] (None: required)}."""
    shared = _range_groups(feed)
    per_kind: dict[str, dict[str, Any]] = {kind: {} for kind in GROUPED}
    for col in feed.columns:
        if col.required:
            per_kind[gx_expectations.NOT_NULL][col.db_name] = None
        if col.codes is not None:
            per_kind[gx_expectations.IN_SETS][col.db_name] = list(col.codes)
        if col.pattern is not None:
            per_kind[gx_expectations.MATCH_REGEXES][col.db_name] = col.pattern
        if (col.min_value is not None or col.max_value is not None) and col.name not in shared:
            per_kind[gx_expectations.WITHIN_BOUNDS][col.db_name] = [col.min_value, col.max_value]
    return per_kind


def _grouped_spec(kind: str, columns: dict[str, Any]) -> dict[str, Any]:
    rule, values = GROUPED[kind]
    kwargs: dict[str, Any] = {"column_list": list(columns)}
    if values:
        kwargs[values] = columns
    spec = {"type": kind, "kwargs": kwargs, "meta": {"rule": RULES[rule][1]}}
    if len(columns) == 1:  # GX's multicolumn expectations need two: GX's own for one
        spec = {k: v for k, v in members(spec)[0].items() if k != "group"}
    return spec


def members(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """A grouped expectation as the column expectations it stands for (each with
    ``group``: the expectation GX ran); any other expectation as itself."""
    if spec["type"] not in GROUPED:
        return [spec]
    rule, values = GROUPED[spec["type"]]
    kind = RULES[rule][0]
    out = []
    for column in spec["kwargs"]["column_list"]:
        kwargs: dict[str, Any] = {"column": column}
        value = spec["kwargs"][values][column] if values else None
        if rule == "codes":
            kwargs["value_set"] = value
        elif rule == "pattern":
            kwargs["regex"] = value
        elif rule == "range":
            kwargs["min_value"], kwargs["max_value"] = value
        out.append({"type": kind, "kwargs": kwargs, "meta": spec["meta"], "group": spec["type"]})
    return out


GROUP_AT = 4  # columns sharing one range: checked by one expectation


def _range_groups_by_bounds(feed: Feed) -> dict[tuple[object, object], list[str]]:
    groups: dict[tuple[object, object], list[str]] = {}
    for col in feed.columns:
        if col.type in ("int", "score") and col.min_value is not None and col.max_value is not None:
            groups.setdefault((col.min_value, col.max_value), []).append(col.name)
    return {bounds: names for bounds, names in groups.items() if len(names) >= GROUP_AT}


def _range_groups(feed: Feed) -> set[str]:
    return {name for names in _range_groups_by_bounds(feed).values() for name in names}


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


def condition_sql(spec: dict[str, Any]) -> sql.Composable:
    """The SQL condition a row meets when it passes one expectation of our suites."""
    kind, kwargs = spec["type"], spec["kwargs"]
    if kind in GROUPED:
        return sql.SQL("({})").format(
            sql.SQL(" and ").join(condition_sql(m) for m in members(spec))
        )
    if kind == gx_expectations.EXPECTATION:
        listed = sql.SQL(", ").join(sql.Identifier(c) for c in kwargs["column_list"])
        return sql.SQL("coalesce(greatest({0}) <= {1} and least({0}) >= {2}, true)").format(
            listed, sql.Literal(kwargs["max_value"]), sql.Literal(kwargs["min_value"])
        )
    col = sql.Identifier(kwargs["column"])
    if kind == "expect_column_values_to_not_be_null":
        return sql.SQL("({} is not null)").format(col)
    if kind == "expect_column_values_to_be_in_set":
        return sql.SQL("({0} is null or {0} = any({1}))").format(
            col, sql.Literal(list(kwargs["value_set"]))
        )
    if kind == "expect_column_values_to_match_regex":
        return sql.SQL("({0} is null or {0} ~ {1})").format(col, sql.Literal(kwargs["regex"]))
    if kind == "expect_column_values_to_be_between":
        parts = [sql.SQL("{} is null").format(col)]
        bounds = []
        if kwargs.get("min_value") is not None:
            bounds.append(sql.SQL("{} >= {}").format(col, sql.Literal(kwargs["min_value"])))
        if kwargs.get("max_value") is not None:
            bounds.append(sql.SQL("{} <= {}").format(col, sql.Literal(kwargs["max_value"])))
        parts.append(sql.SQL("({})").format(sql.SQL(" and ").join(bounds)))
        return sql.SQL("({})").format(sql.SQL(" or ").join(parts))
    raise ValueError(f"no SQL condition for expectation {kind}")


def _failing_rows(
    conn: psycopg.Connection, schema: str, table: str, spec: dict[str, Any]
) -> list[dict[str, Any]]:
    """The rows of ``schema.table`` failing one expectation: line number and the values
    of its column(s), in line order (as GX's ``unexpected_index_list`` has them)."""
    kwargs = spec["kwargs"]
    columns = [LINE_COLUMN, *(kwargs.get("column_list") or [kwargs["column"]])]
    query = sql.SQL("select {} from {}.{} where not ({}) order by {}").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        sql.Identifier(schema),
        sql.Identifier(table),
        condition_sql(spec),
        sql.Identifier(LINE_COLUMN),
    )
    return [dict(zip(columns, row, strict=True)) for row in conn.execute(query)]


def _identity(spec: dict[str, Any]) -> tuple[str, str]:
    kwargs = spec["kwargs"]
    return spec["type"], str(kwargs.get("column") or kwargs.get("column_list"))


def _spec_of(item: Any) -> dict[str, Any]:
    config = item.expectation_config
    return {"type": config.type, "kwargs": dict(config.kwargs)}


def sqlalchemy_url(conn: psycopg.Connection) -> str:
    """The SQLAlchemy URL (with a TCP host, as GX requires) of an open connection."""
    from urllib.parse import quote

    info = conn.info
    if not info.host or info.host.startswith("/"):
        raise ValueError("Great Expectations needs a TCP host for PostgreSQL, not a socket")
    auth = quote(info.user, safe="")
    if info.password:
        auth += ":" + quote(info.password, safe="")
    return f"postgresql+psycopg://{auth}@{info.host}:{info.port}/{quote(info.dbname, safe='')}"


# -- validation ---------------------------------------------------------------------------
SUSPECTS_APPLICATION = "warehouse-gx-suspects"  # its sessions, in pg_stat_activity


class GxValidator:
    """Runs a feed's GX suite against staging tables; one ephemeral GX context per validator."""

    _ids = itertools.count(1)

    def __init__(self, feed: Feed, url: str) -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._gx = gx
        self.feed = feed
        spec = load_suite(feed)
        self._specs = spec["expectations"]
        self._name = spec["name"]
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        # an ephemeral context persists nothing, yet GX serialises its whole project config
        # to YAML on each asset added or deleted: three times a file, a third of a
        # validation's time. Nothing reads it back here.
        context._save_project_config = lambda: None
        self._source = context.data_sources.add_postgres(
            f"{feed.name}_staging", connection_string=url
        )
        self._dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
        # the suspects' connection, opened at the first file with failures and kept for
        # the feed's next files (a new one per file cost ~8 ms: a backend, a SCRAM login)
        self._conn: psycopg.Connection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _suspects_connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self._dsn, autocommit=True, application_name=SUSPECTS_APPLICATION
            )
            # few rows come out of a long scan: let the planner use parallel workers
            self._conn.execute("set parallel_setup_cost = 0")
            self._conn.execute("set parallel_tuple_cost = 0")
        return self._conn

    def _suite(self, specs: list[dict[str, Any]]) -> Any:
        gx = self._gx
        return gx.ExpectationSuite(
            name=self._name,
            expectations=[
                gx.expectations.registry.get_expectation_impl(e["type"])(**e["kwargs"])
                for e in specs
            ],
        )

    def validate(self, schema: str, table: str) -> list[RowFailure]:
        """Failures for rows of ``schema.table`` (which has a ``_line_number`` column).

        Pass 1 runs the whole suite with ``BOOLEAN_ONLY`` (one scan). Pass 2 asks GX for
        the failing rows of each failed expectation, but on a small table of suspects
        (rows breaking any failed expectation's condition, in SQL written from the same
        suite); an expectation that finds nothing there is re-run on the whole table.
        """
        first = self._run(schema, table, self._specs, "BOOLEAN_ONLY")
        # GX does not return results in suite order (one whose metric raised comes first:
        # a value of 1e400 overflows its float parameters). Paired by position, a failed
        # range check was once read as another expectation's and the range went unchecked
        # for the whole column; pair them by what they are. An expectation GX could not
        # run counts as failed: its SQL condition then finds the rows.
        failed = {_identity(_spec_of(item)) for item in first.results if not item.success}
        failing = [spec for spec in self._specs if _identity(spec) in failed]
        if not failing:
            return []
        suspects = f"{table}__suspects"
        create = sql.SQL("create table {}.{} as select * from {}.{} where not ({})").format(
            sql.Identifier(schema),
            sql.Identifier(suspects),
            sql.Identifier(schema),
            sql.Identifier(table),
            sql.SQL(" and ").join(condition_sql(spec) for spec in failing),
        )
        conn = self._suspects_connection()
        try:
            conn.execute(create)
        except psycopg.OperationalError:
            if not conn.closed:
                raise
            # the kept connection died while idle (a server's idle_session_timeout, a
            # firewall, pg_terminate_backend): a new one, once
            conn = self._suspects_connection()
            conn.execute(create)
        try:
            # a grouped expectation's rows, column by column (each its own reason)
            found = [
                (member, _failing_rows(conn, schema, suspects, member))
                for spec in failing
                for member in members(spec)
            ]
        finally:
            conn.execute(
                sql.SQL("drop table {}.{}").format(sql.Identifier(schema), sql.Identifier(suspects))
            )
        hit = {_identity(m) for m, hits in found if hits}
        missed = [s for s in failing if not any(_identity(m) in hit for m in members(s))]
        failures: list[RowFailure] = []
        if missed:  # the SQL condition disagrees with GX: ask GX on the whole table
            for item in self._run(schema, table, missed, COMPLETE).results:
                hits = item.result.get("unexpected_index_list") or []
                failures += self._whole_row_failures(_spec_of(item), hits)
        for spec, hits in found:
            if spec["type"] == gx_expectations.EXPECTATION:
                failures += self._multicolumn_failures(spec["kwargs"], hits)
                continue
            column = spec["kwargs"]["column"]
            reason = _describe(spec)
            for hit in hits:
                value = hit.get(column)
                failures.append(
                    RowFailure(
                        int(hit[LINE_COLUMN]), column, None if value is None else str(value), reason
                    )
                )
        return failures

    def _multicolumn_failures(
        self, kwargs: dict[str, Any], hits: list[dict[str, Any]]
    ) -> list[RowFailure]:
        """One failure per column out of range in each row GX reports for a shared range."""
        low, high = kwargs["min_value"], kwargs["max_value"]
        reason = f"out of range [{low}, {high}] ({gx_expectations.EXPECTATION})"
        failures = []
        for hit in hits:
            for column in kwargs["column_list"]:
                value = hit.get(column)
                if value is not None and not low <= value <= high:
                    failures.append(RowFailure(int(hit[LINE_COLUMN]), column, str(value), reason))
        return failures

    def _run(self, schema: str, table: str, specs: list[dict[str, Any]], result_format: Any) -> Any:
        name = f"{table}_{next(self._ids)}"
        asset = self._source.add_table_asset(name=name, table_name=table, schema_name=schema)
        try:
            batch = asset.add_batch_definition_whole_table("all").get_batch()
            result = batch.validate(self._suite(specs), result_format=result_format)
        finally:
            self._source.delete_asset(name)
        self._raise_on_exceptions(result)
        return result

    def _raise_on_exceptions(self, result: Any) -> None:
        for item in result.results:
            info = item.exception_info or {}
            if info.get("raised_exception"):
                config = item.expectation_config
                # GX's message may quote a delivered value: name the expectation only
                raise RuntimeError(
                    f"GX expectation {config.type} on {self.feed.name}."
                    f"{config.kwargs.get('column')} could not run"
                )

    def _whole_row_failures(
        self, spec: dict[str, Any], hits: list[dict[str, Any]]
    ) -> list[RowFailure]:
        """Rows GX failed where our SQL found none: a shared range decomposes by column;
        any other expectation names its column(s) and its rule."""
        if spec["type"] == gx_expectations.EXPECTATION:
            return self._multicolumn_failures(spec["kwargs"], hits)
        kwargs = spec["kwargs"]
        field = kwargs.get("column") or ",".join(kwargs["column_list"])
        rule = next(
            (e["meta"]["rule"] for e in self._specs if e["type"] == spec["type"]), spec["type"]
        )
        return [
            RowFailure(int(h[LINE_COLUMN]), field, None, f"{rule} ({spec['type']})") for h in hits
        ]


def _describe(member: dict[str, Any]) -> str:
    """A failing row's reason: the rule, a range's bounds, and the expectation GX ran."""
    rule = member.get("meta", {}).get("rule", member["type"])
    ran = member.get("group", member["type"])
    if member["type"] == "expect_column_values_to_be_between":
        kwargs = member["kwargs"]
        return f"{rule} [{kwargs.get('min_value')}, {kwargs.get('max_value')}] ({ran})"
    return f"{rule} ({ran})"
