"""A planted intervention effect, for the matched impact evaluation to find.

Completing an accredited programme (a community order or SSO carrying a ``PROG``
requirement, terminated ``COMPLETED``) lowers the one-year proven reoffending probability
drawn at the MoJ index event by ``EFFECT`` (absolute; half the probability when it is below
``2 * EFFECT``). Who completes depends on risk: the completion probability falls with the
OGRS3 1-year logit (``SELECTION_SLOPE``), as higher-risk people breach more, so completers
are lower-risk than the comparison pool and a naive comparison overstates the effect.

Its own random stream (``seed + INTERVENTIONS`` of the generator) decides completion: the main stream's draws are all
made as before, so every other feed is unchanged; only the termination date and reason
written for programme orders, and the reoffending outcome of the completers, differ. The
true average effect on the completers of each cohort year goes to
``<landing>/../truth/interventions.json``, outside the landing folder, never loaded.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from ingestion import financial_year
from ingestion.synthetic.draws import Weighted

PROGRAMME = "PROG"
EFFECT = 0.06  # absolute fall of the one-year reoffending probability of a completer
COMPLETION_INTERCEPT = 1.75  # ~77 % complete, as EARLY_END_P leaves 78 % of other orders
SELECTION_SLOPE = -1.5  # per unit of OGRS3 1-year logit above RISK_CENTRE
RISK_CENTRE = -0.5  # logit of ~38 %, about the cohort's mean OGRS3 1-year probability
UNSCORED_RISK = 0.35  # as the reoffending draw assumes for an unscored offence
# why an order ends early (the main stream's draw for any order, the plant's for programmes)
EARLY_END_REASON = Weighted(("BREACH", "REVOKED", "OTHER"), (0.6, 0.3, 0.1))


class ProgrammePlant:
    """Completion of programme orders (selection on risk) and its effect on reoffending."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.completed: set[int] = set()  # disposal ids: programme orders completed
        self.effects: dict[str, list[float]] = defaultdict(list)  # cohort year -> p0 - p1

    def completion(
        self,
        disposal_id: int,
        start: date,
        length_months: int,
        shown: tuple[date, str],
        risk: float | None,
        tiered: bool = True,
    ) -> tuple[date, str]:
        """The (termination date, reason) written for a programme order: completed with a
        probability falling with risk; a non-completer keeps the early end the main stream
        drew, or ends early now. Always three draws, so the stream does not drift. An
        untiered case keeps the main stream's end (the small "tier missing" caseload
        figure is calibrated on it to the person)."""
        u, share = self.rng.random(), self.rng.uniform(0.2, 0.9)
        why = EARLY_END_REASON.draw(self.rng)
        if not tiered:
            if shown[1] == "COMPLETED":
                self.completed.add(disposal_id)
            return shown
        p = risk if risk is not None else UNSCORED_RISK
        z = math.log(p / (1 - p)) - RISK_CENTRE
        if u < 1 / (1 + math.exp(-(COMPLETION_INTERCEPT + SELECTION_SLOPE * z))):
            self.completed.add(disposal_id)
            return start + timedelta(days=int(length_months * 30.44)), "COMPLETED"
        if shown[1] != "COMPLETED":
            return shown
        return start + timedelta(days=int(length_months * 30.44 * share)), why

    def prevents(self, disposal_id: int, index: date, u: float, p_reoffend: float) -> bool:
        """For the index event of a completed programme order: record the true effect
        (p0 - p1) and say whether the drawn reoffence (``u < p_reoffend``) is prevented."""
        if disposal_id not in self.completed:
            return False
        treated = p_reoffend - EFFECT if p_reoffend > 2 * EFFECT else p_reoffend / 2
        self.effects[financial_year.of_date(index)].append(p_reoffend - treated)
        return treated <= u < p_reoffend

    def write_truth(self, landing: Path) -> Path:
        """The planted effect per cohort year, beside (never inside) the landing folder."""
        folder = Path(landing).resolve().parent / "truth"
        folder.mkdir(parents=True, exist_ok=True)
        truth = {
            "intervention": PROGRAMME,
            "definition": "index community order/SSO with a PROG requirement, terminated COMPLETED",
            "effect_on_probability": -EFFECT,
            "cohorts": {
                year: {
                    "participants": len(values),
                    "true_effect_binary": -float(np.mean(values)),
                }
                for year, values in sorted(self.effects.items())
            },
        }
        path = folder / "interventions.json"
        path.write_text(json.dumps(truth, indent=2) + "\n")
        return path
