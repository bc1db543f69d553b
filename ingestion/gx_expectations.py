"""Our one custom Great Expectations expectation: many columns sharing one range.

``expect_multicolumn_values_to_be_between`` checks that every value of a list of columns
lies in ``[min_value, max_value]`` (nulls pass). It exists for speed: the 35 OASys item
scores are all 0-2, and one ``greatest()``/``least()`` condition evaluated in one scan is far
cheaper than 35 column expectations (each adds a null count and a range count to GX's
aggregate query) or an ``unexpected_rows_expectation`` (two scans of its own).

GX computes a multicolumn map metric with queries of its own (its unexpected count and its
filtered row count each scan the table). Ours is registered the way GX registers column map
metrics instead: the unexpected count is an aggregate that GX bundles into the one query it
runs for the suite's column expectations, and since no row is ever ignored
(``ignore_row_if="never"``) the filtered row count is the table's row count, which GX has
already counted. Two scans of the table fewer per validation.

Importing this module registers the expectation and its metric with GX.
"""

from __future__ import annotations

import logging
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


class MulticolumnValuesBetween(MulticolumnMapMetricProvider):
    """Row passes when all its non-null values of ``column_list`` are within the range."""

    condition_metric_name = METRIC
    condition_domain_keys = (
        "batch_id",
        "table",
        "column_list",
        "row_condition",
        "condition_parser",
        "ignore_row_if",
    )
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

    @classmethod
    def _register_metric_functions(cls) -> None:
        super()._register_metric_functions()
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
            metric_name=f"{METRIC}.unexpected_count.aggregate_fn",
            metric_value_keys=cls.condition_value_keys,
            metric_provider=_unexpected_count_aggregate,
            metric_fn_type=MetricPartialFunctionTypes.AGGREGATE_FN,
            **keys,
        )
        register_metric(
            metric_name=f"{METRIC}.unexpected_count",
            metric_value_keys=cls.condition_value_keys,
            metric_provider=None,
            metric_fn_type=MetricFunctionTypes.VALUE,
            **keys,
        )
        register_metric(
            metric_name=f"{METRIC}.filtered_row_count",
            metric_value_keys=(*cls.condition_value_keys, "result_format"),
            metric_provider=_filtered_row_count,
            metric_fn_type=MetricFunctionTypes.VALUE,
            **keys,
        )
