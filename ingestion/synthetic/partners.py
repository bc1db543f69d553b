"""Partner client records: DAT treatment episodes and Supporting People clients.

Written after the probation simulation, so the records can include real offenders; the
partners hold no CRN, only what their own returns carry (DAT: initials, date of birth,
sex and partial postcode; Supporting People: name, date of birth, sex and postcode), with
the noise of ``noise``. ``truth`` lists which records are whose (partner_source, partner_record_id,
offender_id, by name), written outside the landing folder and never loaded."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from ingestion.synthetic.calendar import END
from ingestion.synthetic.draws import Weighted, pick
from ingestion.synthetic.names import FIRST_NAMES_F, FIRST_NAMES_M, SURNAMES
from ingestion.synthetic.noise import Noise
from ingestion.synthetic.people import Ids, People
from ingestion.synthetic.places import postcode, postcode_district
from ingestion.synthetic.shares import districts

DAT_EPISODES_A_MONTH = 520
DAT_OFFENDER_SHARE = 0.34
SP_CLIENTS_A_MONTH = 310
SP_OFFENDER_SHARE = 0.22
SUBSTANCES = ("OPIATES", "CRACK", "COCAINE", "CANNABIS", "AMPHETAMINE", "ALCOHOL", "OTHER")
SUBSTANCE_P = (0.42, 0.12, 0.1, 0.12, 0.04, 0.15, 0.05)
MODALITIES = ("PRESCRIBING", "PSYCHOSOCIAL", "STRUCTURED_DAY", "INPATIENT", "RESIDENTIAL")
MODALITY_P = (0.5, 0.3, 0.1, 0.05, 0.05)
DISCHARGE_REASONS = (
    "COMPLETED_FREE",
    "COMPLETED_OCCASIONAL",
    "DROPPED_OUT",
    "TRANSFERRED",
    "PRISON",
)
DISCHARGE_P = (0.35, 0.15, 0.35, 0.1, 0.05)
CLIENT_GROUPS = (
    "HOMELESS",
    "MENTAL_HEALTH",
    "SUBSTANCE_MISUSE",
    "YOUNG_PEOPLE",
    "DOMESTIC_VIOLENCE",
    "OLDER_PEOPLE",
    "OFFENDERS",
)
CLIENT_GROUP_P = (0.3, 0.2, 0.12, 0.14, 0.1, 0.1, 0.04)
SUBSTANCE = Weighted(SUBSTANCES, SUBSTANCE_P)
MODALITY = Weighted(MODALITIES, MODALITY_P)
DISCHARGE_REASON = Weighted(DISCHARGE_REASONS, DISCHARGE_P)
CLIENT_GROUP = Weighted(CLIENT_GROUPS, CLIENT_GROUP_P)
REFERRAL_SOURCE = Weighted(("SELF", "GP", "OTHER", "CJS"), (0.4, 0.3, 0.2, 0.1))
SERVICE_TYPES = ("FLOATING", "ACCOMMODATION_BASED")
OUTCOME_DOMAINS = (
    "ECONOMIC_WELLBEING",
    "ENJOY_ACHIEVE",
    "BE_HEALTHY",
    "STAY_SAFE",
    "POSITIVE_CONTRIBUTION",
)


class PartnerClients:
    def __init__(
        self, rng: np.random.Generator, scale: float, people: People, noise: Noise
    ) -> None:
        self.rng = rng
        self.noise = noise
        self.truth: list[dict[str, object]] = []
        self.scale = scale
        self.people = people
        self.ids = Ids()
        self.las, la_pop = districts()
        self.la = Weighted(self.las, la_pop / la_pop.sum())
        self.sentenced = np.array([d.toordinal() for d in people.last_sentenced], dtype=np.int64)
        self.drug_need = np.array(people.drug_need, dtype=bool)
        self.accommodation_need = np.array(people.accommodation_need, dtype=bool)

    def _offenders_for(self, month: date, need: np.ndarray, count: int) -> list[int]:
        """Up to ``count`` offenders with the need, sentenced in the two years to ``month``."""
        if not count:
            return []
        end = month.toordinal()
        ok = need & (self.sentenced >= end - 730) & (self.sentenced <= end)
        candidates = np.flatnonzero(ok)
        if not len(candidates):
            return []
        picks = self.rng.choice(candidates, size=min(count, len(candidates)), replace=False)
        return [int(i) for i in picks]

    def _someone(self) -> tuple[str, str, date, bool, str, str]:
        """A client who is not on the caseload: (first, surname, dob, female, LA, postcode)."""
        rng = self.rng
        female = bool(rng.random() < 0.3)
        first = pick(rng, FIRST_NAMES_F if female else FIRST_NAMES_M)
        surname = pick(rng, SURNAMES)
        dob = date(1950, 1, 1) + timedelta(days=int(rng.integers(0, 365 * 40)))
        la = self.la.draw(rng)
        return first, surname, dob, female, la, postcode(rng, la)

    def _offender(self, i: int) -> tuple[str, str, date, bool, str, str]:
        p = self.people
        return p.first_name[i], p.surname[i], p.dob[i], p.female[i], p.la[i], p.postcode[i]

    def dat(self, month: date) -> list[dict[str, str]]:
        """The month's treatment episodes."""
        rng = self.rng
        n = int(rng.poisson(DAT_EPISODES_A_MONTH * self.scale))
        offenders = self._offenders_for(month, self.drug_need, int(n * DAT_OFFENDER_SHARE))
        rows = []
        for k in range(n):
            if k < len(offenders):
                first, surname, dob, female, la, home = self._offender(offenders[k])
                referral = "CJS"
            else:
                first, surname, dob, female, la, home = self._someone()
                referral = REFERRAL_SOURCE.draw(rng)
            start = month + timedelta(days=int(rng.integers(0, 28)))
            discharge, reason = "", ""
            if rng.random() < 0.7:
                end = start + timedelta(days=int(rng.gamma(2.0, 60)))
                if end < END:
                    discharge = end.isoformat()
                    reason = DISCHARGE_REASON.draw(rng)
            record = f"DAT{self.ids.next('dat'):07d}"
            if k < len(offenders):
                self.truth.append(_link("dat", record, offenders[k] + 1))
            home = self.noise.postcode(home, la)
            rows.append(
                {
                    "EPISODE_ID": record,
                    "INITIALS": self.noise.initials(first[0] + surname[0]),
                    "DATE_OF_BIRTH": self.noise.dob(dob).isoformat(),
                    "SEX": "F" if female else "M",
                    "POSTCODE_DISTRICT": postcode_district(home) if home else "",
                    "LA_CODE": la,
                    "SUBSTANCE": SUBSTANCE.draw(rng),
                    "MODALITY": MODALITY.draw(rng),
                    "REFERRAL_SOURCE": referral,
                    "START_DATE": start.isoformat(),
                    "DISCHARGE_DATE": discharge,
                    "DISCHARGE_REASON": reason,
                }
            )
        return rows

    def supporting_people(self, month: date) -> tuple[list[dict], list[dict]]:
        """The month's new Supporting People clients and their outcomes."""
        rng = self.rng
        n = int(rng.poisson(SP_CLIENTS_A_MONTH * self.scale))
        offenders = self._offenders_for(month, self.accommodation_need, int(n * SP_OFFENDER_SHARE))
        clients, outcomes = [], []
        for k in range(n):
            if k < len(offenders):
                first, surname, dob, female, la, home = self._offender(offenders[k])
                group = "OFFENDERS" if rng.random() < 0.8 else "HOMELESS"
            else:
                first, surname, dob, female, la, home = self._someone()
                group = CLIENT_GROUP.draw(rng)
            record = f"SP{self.ids.next('sp'):07d}"
            if k < len(offenders):
                self.truth.append(_link("supporting_people", record, offenders[k] + 1))
            start = month + timedelta(days=int(rng.integers(0, 28)))
            end = start + timedelta(days=int(rng.gamma(2.0, 90)))
            clients.append(
                {
                    "CLIENT_RECORD_ID": record,
                    "FIRST_NAME": self.noise.first_name(first),
                    "SURNAME": self.noise.surname(surname),
                    "DATE_OF_BIRTH": self.noise.dob(dob).isoformat(),
                    "SEX": self.noise.sex(female),
                    "POSTCODE": self.noise.postcode(home, la),
                    "LA_CODE": la,
                    "CLIENT_GROUP": group,
                    "SERVICE_TYPE": pick(rng, SERVICE_TYPES),
                    "START_DATE": start.isoformat(),
                    "END_DATE": end.isoformat() if end < END else "",
                }
            )
            for domain in OUTCOME_DOMAINS:
                need = rng.random() < 0.6
                achieved = "" if not need else ("1" if rng.random() < 0.62 else "0")
                outcomes.append(
                    {
                        "CLIENT_RECORD_ID": record,
                        "OUTCOME_DOMAIN": domain,
                        "NEED_IDENTIFIED": "1" if need else "0",
                        "OUTCOME_ACHIEVED": achieved,
                    }
                )
        return clients, outcomes


def _link(source: str, record: str, offender_id: int) -> dict[str, object]:
    """One true link: the partner record and the offender it belongs to."""
    return {"partner_source": source, "partner_record_id": record, "offender_id": offender_id}
