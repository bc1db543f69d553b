"""``make run``'s progress bars: one per stage, counting that stage's own work."""

from __future__ import annotations

import io

from rich.console import Console

from warehouse.display import StageProgress


def test_a_finished_stage_bar_keeps_its_count_when_later_steps_report_the_same_stage():
    with StageProgress(Console(file=io.StringIO(), width=100)) as bars:
        bars("soda", 0, 3, {})
        for _ in range(3):
            bars("soda", 1, 3, {"checks": 9})
        bars("soda", 1, 1, {"checks": 4})  # an analytics step verifying its one contract
        bars("dbt", 1, None, {})  # no total yet: counts on
        bars("dbt", 1, 5, {})
        soda = bars.progress.tasks[bars.tasks["soda"]]
        dbt = bars.progress.tasks[bars.tasks["dbt"]]
    assert (soda.completed, soda.total) == (3, 3)
    assert (dbt.completed, dbt.total) == (2, 5)
