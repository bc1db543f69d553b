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

    # GIVEN make run's bars listening, and stand-ins for the analytics steps that note what
    # the bar shows while they run (the forecast stand-in reports series as forecast.run does)
    seen: list[tuple[str, str, float]] = []
    with StageProgress(Console(file=io.StringIO(), width=100)) as bars:

        def analytics():  # type: ignore[no-untyped-def]
            return bars.progress.tasks[bars.tasks["analytics"]]

        def stand_in(name: str):  # type: ignore[no-untyped-def]
            def run(_settings):  # type: ignore[no-untyped-def]
                for _ in range(3 if name == "forecast" else 0):
                    progress.advance("forecast", total=95)
                seen.append((name, analytics().fields["detail"], analytics().completed))
                return {}

            return run

        progress.listen(bars)
        try:
            # WHEN each step runs through run_step, the forecast twice (a retry)
            for step in [*steps.STEPS[:3], steps.STEPS[2], *steps.STEPS[3:]]:
                steps.run_step(None, steps.Step(step.name, stand_in(step.name)))  # type: ignore[arg-type]
                if step.name == "link":
                    after_first = analytics().fields["detail"]
        finally:
            progress.stop_listening(bars)
        bar = analytics()
    # THEN while a step runs the bar names it (the forecast with its series, counted afresh
    # on the retry) and counts the steps done before it (a retried step once); the last
    # step clears the detail
    assert seen == [
        ("link", "link", 0),
        ("evaluate", "evaluate", 1),
        ("forecast", "forecast 3/95 series", 2),
        ("forecast", "forecast 3/95 series", 3),
        ("cost_by_complexity", "cost_by_complexity", 3),
    ]
    assert after_first == "link"
    assert (bar.completed, bar.total, bar.fields["detail"]) == (4, 4, "")
