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


def test_the_analytics_bar_counts_steps_and_shows_the_running_step_and_its_series():
    from warehouse import progress
    from warehouse.analytics import steps

    ran: list[str] = []
    with StageProgress(Console(file=io.StringIO(), width=100)) as bars:
        analytics = lambda: bars.progress.tasks[bars.tasks["analytics"]]  # noqa: E731
        progress.listen(bars)
        try:
            for step in steps.STEPS:
                quick = steps.Step(step.name, lambda _s, name=step.name: ran.append(name) or {})
                if step.name == "forecast":  # what forecast.run reports, seen mid-step
                    progress.advance("analytics", 0, total=len(steps.STEPS), step=step.name)
                    for _ in range(3):
                        progress.advance("forecast", total=95)
                    assert analytics().fields["detail"] == "forecast 3/95 series"
                    assert analytics().completed == 2
                steps.run_step(None, quick)  # type: ignore[arg-type]
                if step is not steps.STEPS[-1]:
                    assert analytics().fields["detail"] == step.name
        finally:
            progress.stop_listening(bars)
        bar = analytics()
    assert ran == [s.name for s in steps.STEPS]
    assert (bar.completed, bar.total, bar.fields["detail"]) == (4, 4, "")
