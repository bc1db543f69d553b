"""Our one custom Great Expectations expectation: many columns sharing one range.

``expect_multicolumn_values_to_be_between`` checks that every value of a list of columns
lies in ``[min_value, max_value]`` (nulls pass). It exists for speed: the 35 OASys item
scores are all 0-2, and one ``greatest()``/``least()`` condition evaluated in one scan is far
cheaper than 35 column expectations (each adds a null count and a range count to GX's
aggregate query) or an ``unexpected_rows_expectation`` (two scans of its own).

Importing this module registers the expectation and its metric with GX.
"""

from __future__ import annotations

from typing import Any, Literal

from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa
from great_expectations.execution_engine import PandasExecutionEngine, SqlAlchemyExecutionEngine
from great_expectations.expectations.expectation import MulticolumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    MulticolumnMapMetricProvider,
)
from great_expectations.expectations.metrics.map_metric_provider.multicolumn_condition_partial import (  # noqa: E501
    multicolumn_condition_partial,
)

METRIC = "multicolumn_values.between"
EXPECTATION = "expect_multicolumn_values_to_be_between"


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
