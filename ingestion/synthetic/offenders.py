"""The intake: new offenders (who they are, where they live) and repeat orders."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from ingestion.reference import seed_rows
from ingestion.synthetic.draws import Weighted, pick
from ingestion.synthetic.names import FIRST_NAMES_F, FIRST_NAMES_M, SURNAMES
from ingestion.synthetic.people import People
from ingestion.synthetic.places import postcode
from ingestion.synthetic.reoffending import Reoffending

REPEAT_WINDOW = 14_000  # a repeat order goes to one of the most recent offenders (scale 1)...
REPEAT_GAP_DAYS = 150  # ...still supervised, or not long finished
# Wards where offenders concentrate (calibration.md, "Geography"): weighted up.
HOTSPOT_WARDS = {
    "Harpurhey": 5.0,
    "Miles Platting and Newton Heath": 5.0,
    "Bradford": 4.5,
    "Halliwell": 4.0,
    "Tonge with the Haulgh": 4.0,
    "Farnworth": 4.0,
    "Woodhouse Park": 4.0,
    "Baguley": 4.0,
}


class Offenders:
    """Adds people to the pool and writes their ``ndelius_offenders`` rows."""

    def __init__(
        self, rng: np.random.Generator, people: People, reoffending: Reoffending, scale: float
    ) -> None:
        self.rng = rng
        self.people = people
        self.reoffending = reoffending
        self.scale = scale
        wards = seed_rows("ref_wards")
        weights = np.array(
            [float(w["population_2007"]) * HOTSPOT_WARDS.get(w["ward_name"], 1.0) for w in wards]
        )
        self.ward = Weighted(wards, weights / weights.sum())
        las = seed_rows("ref_local_authorities")
        self.white_british = {la["la_code"]: float(la["white_british_share"]) for la in las}
        self.ethnic_codes = [r["ethnicity_code"] for r in seed_rows("ref_ethnicity")]

    def new(self, when: date, out: dict) -> int:
        """A new offender sentenced on ``when``; returns the offender id."""
        rng = self.rng
        p = self.people
        pid = len(p) + 1
        female = bool(rng.random() < 0.14)
        age = int(np.clip(rng.gamma(2.6, 6.5) + 18, 18, 80))
        dob = when - timedelta(days=age * 365 + int(rng.integers(0, 365)))
        ward = self.ward.draw(rng)
        la = ward["la_code"]
        wb = bool(rng.random() < self.white_british[la] + 0.02)
        ethnicity = "W1" if wb else self.ethnic_codes[int(rng.integers(1, len(self.ethnic_codes)))]
        # The draws an earlier version made for the criminal history, kept so every later
        # draw of the main stream (and the figures calibrated on them) stays as it was;
        # the history comes from the reoffending stream.
        if int(rng.poisson(3.0)) if rng.random() < 0.7 else 0:
            rng.integers(200, max(201, (age - 12) * 365))
        prior, first_sanction = self.reoffending.history(female, age, dob, when)
        first = pick(rng, FIRST_NAMES_F if female else FIRST_NAMES_M)
        surname = pick(rng, SURNAMES)
        home = postcode(rng, la)
        pnc = f"{when.year - int(rng.integers(0, 8))}/{int(rng.integers(1, 9_999_999)):07d}" + pick(
            rng, "ABCDEFGHJKLMNPQRTUVWXYZ"
        )
        crn = f"{chr(65 + pid % 26)}{pid % 1_000_000:06d}"
        self.people.add(
            crn=crn,
            dob=dob,
            female=female,
            white_british=wb,
            la=la,
            postcode=home,
            first_name=first,
            surname=surname,
            sanctions=prior,
            first_sanction=first_sanction,
            sentenced=when,
        )
        out["ndelius_offenders"].append(
            {
                "OFFENDER_ID": str(pid),
                "CRN": crn,
                "PNC_NUMBER": pnc if prior else "",
                "FIRST_NAME": first,
                "SURNAME": surname,
                "DATE_OF_BIRTH": dob.isoformat(),
                "GENDER": "F" if female else "M",
                "ETHNICITY": ethnicity,
                "POSTCODE": home,
                "WARD_CODE": ward["ward_code"],
                "LA_CODE": la,
                "FIRST_SANCTION_DATE": first_sanction.isoformat(),
                "PREVIOUS_SANCTIONS": str(prior),
                "SOFT_DELETED": "0",
                "ROW_VERSION": "1",
            }
        )
        return pid

    def pick_repeat(self, when: date) -> int | None:
        """Someone supervised now or until recently (concurrent and repeat orders)."""
        n = len(self.people)
        if n < 200:
            return None
        for _ in range(8):
            pid = int(self.rng.integers(max(1, n - int(REPEAT_WINDOW * self.scale)), n + 1))
            if (when - self.people.supervised_until[pid - 1]).days < REPEAT_GAP_DAYS:
                return pid
        return None
