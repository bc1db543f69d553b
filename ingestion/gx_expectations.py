"""Our custom Great Expectations expectations: one expectation checks many columns.

A GX validation costs Python per expectation (its metric graph, ~13 ms each on this
machine) more than SQL: a file of ndelius events took 0.26 s to validate with its 17
column expectations, 0.06 s with 4, and ingestion made 723 such calls at scale 1 (78 % of
a serial ingest). So a feed's suite has at most one expectation per kind of rule, each over
every column the rule applies to; a row passes when every listed column passes:

* ``expect_multicolumn_values_to_not_be_null``: required fields;
* ``expect_multicolumn_values_to_be_in_sets``: code lists (``value_sets``: column -> codes);
* ``expect_multicolumn_values_to_match_regexes``: formats (``regexes``: column -> pattern);
* ``expect_multicolumn_values_to_be_within_bounds``: ranges (``bounds``: column ->
  [min, max], either may be null);
* ``expect_multicolumn_values_to_be_between``: many columns sharing one range (the 35
  OASys item scores, all 0-2), as one ``greatest()``/``least()`` condition.

Nulls pass every rule but the first. The conditions are written as GX writes its column
expectations' (``sa.literal`` bounds, ``in_``, PostgreSQL's ``~``).

GX computes a multicolumn map metric with queries of its own (its unexpected count and its
filtered row count each scan the table). Ours are registered the way GX registers column map
metrics instead: the unexpected count is an aggregate that GX bundles into one query for
the suite, and since no row is ever ignored (``ignore_row_if="never"``) the filtered row
count is the table's row count, which GX has already counted: one scan per validation.

Importing this module registers the expectations and their metrics with GX.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any, Literal

from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa
from great_expectations.execution_engine import PandasExecutionEngine, SqlAlchemyExecutionEngine
from great_expectations.expectations.expectation import MulticolumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    MulticolumnMapMetricProvider,
)
from great_expectations.expectations.metrics.map_metric_provider.map_condition_auxilliary_methods import (  # noqa: E501
    _sqlalchemy_map_condition_unexpected_count_aggregate_fn,
)
from great_expectations.expectations.metrics.map_metric_provider.multicolumn_condition_partial import (  # noqa: E501
    multicolumn_condition_partial,
)
from great_expectations.expectations.metrics.map_metric_provider.multicolumn_map_condition_auxilliary_methods import (  # noqa: E501
    _sqlalchemy_multicolumn_map_condition_filtered_row_count,
)
from great_expectations.expectations.metrics.metric_provider import (
    MetricFunctionTypes,
    MetricPartialFunctionTypes,
)
from great_expectations.expectations.registry import register_metric

METRIC = "multicolumn_values.between"
EXPECTATION = "expect_multicolumn_values_to_be_between"
NOT_NULL = "expect_multicolumn_values_to_not_be_null"
IN_SETS = "expect_multicolumn_values_to_be_in_sets"
MATCH_REGEXES = "expect_multicolumn_values_to_match_regexes"
WITHIN_BOUNDS = "expect_multicolumn_values_to_be_within_bounds"


def _unexpected_count_aggregate(cls: Any, **kwargs: Any) -> tuple[Any, dict, dict]:
    """GX's aggregate for column map metrics, on the table's domain: ``ignore_row_if="never"``
    filters nothing, and without it the domain is the one GX's column metrics are bundled on."""
    aggregate, compute_kwargs, accessor_kwargs = (
        _sqlalchemy_map_condition_unexpected_count_aggregate_fn(cls, **kwargs)
    )
    if compute_kwargs.get("ignore_row_if") == "never":
        compute_kwargs = {k: v for k, v in compute_kwargs.items() if k != "ignore_row_if"}
    return aggregate, compute_kwargs, accessor_kwargs


def _filtered_row_count(
    cls: Any, *, metric_domain_kwargs: dict, metrics: dict, **kwargs: Any
) -> Any:
    """Rows left after ``ignore_row_if``: with nothing ignored and no row condition, the
    table's row count (a dependency of every multicolumn metric); otherwise GX's own query."""
    if metric_domain_kwargs.get(
        "ignore_row_if", "never"
    ) == "never" and not metric_domain_kwargs.get("row_condition"):
        return metrics["table.row_count"]
    return _sqlalchemy_multicolumn_map_condition_filtered_row_count(
        cls, metric_domain_kwargs=metric_domain_kwargs, metrics=metrics, **kwargs
    )


class ExpectMulticolumnValuesToBeBetween(MulticolumnMapExpectation):
    """Expect every value in ``column_list`` to be between ``min_value`` and ``max_value``
    (inclusive); null values are not checked."""

    min_value: int
    max_value: int
    # "never": the row domain stays the whole table (nulls are handled by the condition)
    ignore_row_if: Literal["all_values_are_missing", "any_value_is_missing", "never"] = "never"

    map_metric = METRIC
    success_keys = ("mostly", "min_value", "max_value")
    args_keys = ("column_list", "min_value", "max_value")


class _BundledRowMetric(MulticolumnMapMetricProvider):
    """A row condition over ``column_list`` whose unexpected count GX bundles into its one
    aggregate query (see the module's docstring); subclasses name the metric."""

    condition_domain_keys = (
        "batch_id",
        "table",
        "column_list",
        "row_condition",
        "condition_parser",
        "ignore_row_if",
    )

    @classmethod
    def _register_metric_functions(cls) -> None:
        super()._register_metric_functions()
        if not getattr(cls, "condition_metric_name", None):
            return  # the base class itself
        # GX logs a warning for each provider replaced here; the replacement is the point
        registry_log = logging.getLogger(register_metric.__module__)
        level = registry_log.level
        registry_log.setLevel(logging.ERROR)
        try:
            cls._register_bundled_metrics()
        finally:
            registry_log.setLevel(level)

    @classmethod
    def _register_bundled_metrics(cls) -> None:
        keys = {
            "metric_domain_keys": cls.condition_domain_keys,
            "execution_engine": SqlAlchemyExecutionEngine,
            "metric_class": cls,
        }
        # as GX registers column map metrics: the count is an aggregate it bundles
        register_metric(
            metric_name=f"{cls.condition_metric_name}.unexpected_count.aggregate_fn",
            metric_value_keys=cls.condition_value_keys,
            metric_provider=_unexpected_count_aggregate,
            metric_fn_type=MetricPartialFunctionTypes.AGGREGATE_FN,
            **keys,
        )
        register_metric(
            metric_name=f"{cls.condition_metric_name}.unexpected_count",
            metric_value_keys=cls.condition_value_keys,
            metric_provider=None,
            metric_fn_type=MetricFunctionTypes.VALUE,
            **keys,
        )
        register_metric(
            metric_name=f"{cls.condition_metric_name}.filtered_row_count",
            metric_value_keys=(*cls.condition_value_keys, "result_format"),
            metric_provider=_filtered_row_count,
            metric_fn_type=MetricFunctionTypes.VALUE,
            **keys,
        )


class MulticolumnValuesBetween(_BundledRowMetric):
    """Row passes when all its non-null values of ``column_list`` are within the range."""

    condition_metric_name = METRIC
    condition_value_keys = ("min_value", "max_value")

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: Any, min_value: Any, max_value: Any, **kwargs: Any) -> Any:
        high = column_list.max(axis=1)
        low = column_list.min(axis=1)
        return (high.isna() | high.le(max_value)) & (low.isna() | low.ge(min_value))

    @multicolumn_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column_list: Any, min_value: Any, max_value: Any, **kwargs: Any) -> Any:
        # greatest()/least() skip nulls; all-null rows give null -> coalesce to a pass
        return sa.func.coalesce(
            sa.and_(
                sa.func.greatest(*column_list) <= max_value,
                sa.func.least(*column_list) >= min_value,
            ),
            sa.true(),
        )


# -- one expectation per kind of rule ---------------------------------------------------
Never = Literal["all_values_are_missing", "any_value_is_missing", "never"]


class ExpectMulticolumnValuesToNotBeNull(MulticolumnMapExpectation):
    """Expect no value in ``column_list`` to be null (the feed's required fields)."""

    ignore_row_if: Never = "never"
    map_metric = "multicolumn_values.not_null"
    success_keys = ("mostly",)
    args_keys = ("column_list",)


class ExpectMulticolumnValuesToBeInSets(MulticolumnMapExpectation):
    """Expect each column's non-null values to be among its codes (``value_sets``)."""

    value_sets: dict[str, list[Any]]
    ignore_row_if: Never = "never"
    map_metric = "multicolumn_values.in_sets"
    success_keys = ("mostly", "value_sets")
    args_keys = ("column_list", "value_sets")


class ExpectMulticolumnValuesToMatchRegexes(MulticolumnMapExpectation):
    """Expect each column's non-null values to match its pattern (``regexes``)."""

    regexes: dict[str, str]
    ignore_row_if: Never = "never"
    map_metric = "multicolumn_values.match_regexes"
    success_keys = ("mostly", "regexes")
    args_keys = ("column_list", "regexes")


class ExpectMulticolumnValuesToBeWithinBounds(MulticolumnMapExpectation):
    """Expect each column's non-null values within its ``bounds`` ([min, max], inclusive;
    a null bound is open)."""

    bounds: dict[str, list[Any]]
    ignore_row_if: Never = "never"
    map_metric = "multicolumn_values.within_bounds"
    success_keys = ("mostly", "bounds")
    args_keys = ("column_list", "bounds")


def _bound(value: Any) -> Any:
    """A bound as SQL compares it: a date column's bounds are ISO dates in the suite."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def _each(column_list: Any, passes: Any) -> Any:
    """A row passes when every listed column is null or ``passes(column)``."""
    return sa.and_(*(sa.or_(c.is_(None), passes(c)) for c in column_list))


class MulticolumnValuesNotNull(_BundledRowMetric):
    condition_metric_name = "multicolumn_values.not_null"
    condition_value_keys = ()

    @multicolumn_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column_list: Any, **kwargs: Any) -> Any:
        return sa.and_(*(c.is_not(None) for c in column_list))


class MulticolumnValuesInSets(_BundledRowMetric):
    condition_metric_name = "multicolumn_values.in_sets"
    condition_value_keys = ("value_sets",)

    @multicolumn_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column_list: Any, value_sets: dict, **kwargs: Any) -> Any:
        return _each(column_list, lambda c: c.in_(value_sets[c.name]))


class MulticolumnValuesMatchRegexes(_BundledRowMetric):
    condition_metric_name = "multicolumn_values.match_regexes"
    condition_value_keys = ("regexes",)

    @multicolumn_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column_list: Any, regexes: dict, **kwargs: Any) -> Any:
        # as GX's expect_column_values_to_match_regex on PostgreSQL
        return _each(
            column_list,
            lambda c: sa.BinaryExpression(c, sa.literal(regexes[c.name]), sa.custom_op("~")),
        )


class MulticolumnValuesWithinBounds(_BundledRowMetric):
    condition_metric_name = "multicolumn_values.within_bounds"
    condition_value_keys = ("bounds",)

    @multicolumn_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column_list: Any, bounds: dict, **kwargs: Any) -> Any:
        def within(c: Any) -> Any:
            low, high = (_bound(b) for b in bounds[c.name])
            checks = [] if low is None else [c >= sa.literal(low)]
            checks += [] if high is None else [c <= sa.literal(high)]
            return sa.and_(*checks)

        return _each(column_list, within)
