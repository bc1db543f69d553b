"""A model whose table swap timed out on a lock is built again, alone with what it skipped
(the integration test tests/integration/test_access.py holds a real lock)."""

from __future__ import annotations

from warehouse.transform import DbtReport, retry_args

LOCKED = (
    "error",
    "Database Error in model dim_tier (models/marts/shared/dim_tier.sql) "
    "canceling statement due to lock timeout",
)


def test_only_lock_timeouts_are_retried():
    report = DbtReport(
        nodes={
            "model.p.dim_tier": LOCKED,
            "model.p.dim_date": ("error", "Database Error in model dim_date division by zero"),
            "test.p.unique_dim_tier": ("skipped", ""),
        }
    )
    assert report.lock_timeouts == ["model.p.dim_tier"]


def test_a_lost_deadlock_is_retried_and_the_skipped_models_are_named_for_the_last_attempt():
    # two rebuilds dropping keys to the same dimensions can deadlock: PostgreSQL cancels one
    report = DbtReport(
        nodes={
            "model.p.fct_unit_costs": (
                "error",
                "Database Error in model fct_unit_costs (models/x.sql) deadlock detected",
            ),
            "model.p.fct_unit_costs_monthly": ("skipped", ""),
            "test.p.unique_fct_unit_costs": ("skipped", ""),
            "model.p.dim_date": ("success", ""),
        }
    )
    assert report.lock_timeouts == ["model.p.fct_unit_costs"]
    assert report.skipped_models == ["model.p.fct_unit_costs_monthly"]


def test_the_retry_selects_the_failed_model_and_its_descendants_within_the_selection():
    assert retry_args(("build",), ["model.p.dim_tier"]) == ["build", "--select", "dim_tier+"]
    assert retry_args(
        ("build", "--select", "dim_tier", "dim_date", "--target-path", "t"),
        ["model.p.dim_tier"],
    ) == ["build", "--target-path", "t", "--select", "dim_tier+,dim_tier", "dim_tier+,dim_date"]


def test_a_retry_result_replaces_the_first_and_the_counts_follow():
    report = DbtReport(
        nodes={"model.p.dim_tier": LOCKED, "test.p.unique_dim_tier": ("skipped", "")}
    )
    report.merge(
        DbtReport(
            nodes={
                "model.p.dim_tier": ("success", ""),
                "test.p.unique_dim_tier": ("pass", ""),
            }
        )
    )
    assert report.failures == [] and report.lock_timeouts == []
    assert report.count("model", "success") == 1 and report.count("test", "pass") == 1


def test_the_slowest_nodes_of_a_type_come_first_and_a_retry_replaces_a_time():
    report = DbtReport(
        nodes={"model.p.a": LOCKED, "model.p.b": ("success", ""), "test.p.t": ("pass", "")},
        seconds={"model.p.a": 1.0, "model.p.b": 3.0, "test.p.t": 9.0},
    )
    report.merge(DbtReport(nodes={"model.p.a": ("success", "")}, seconds={"model.p.a": 5.0}))
    assert report.slowest(2) == [("a", 5.0), ("b", 3.0)]
    assert report.slowest(5, "test") == [("t", 9.0)]
