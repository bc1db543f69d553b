"""How partners' copies of a person differ from probation's: the noise record linkage meets.

Applied to DAT and Supporting People client records (all of them, on or off the caseload)
from a random stream of its own, so adding or tuning it moves no other file and no
calibrated figure. Rates are per record (assumed; real partner returns are not public):
a typo in a name, a nickname for the first name, day and month swapped in the date of
birth, a mistyped day, a moved postcode (a new address in the same district), and
missing postcode or sex where the feed allows it (required columns are never blanked,
so a noisy record still loads).
"""

from __future__ import annotations

from datetime import date

import numpy as np

from ingestion.synthetic.places import postcode

NICKNAMES = {
    "Michael": "Mike",
    "Daniel": "Danny",
    "James": "Jim",
    "Steven": "Steve",
    "Anthony": "Tony",
    "Mohammed": "Mohammad",
    "David": "Dave",
    "Samantha": "Sam",
    "Nicola": "Nicky",
    "Joanne": "Jo",
    "Michelle": "Shelley",
    "Amanda": "Mandy",
}
RATES = {
    "name_typo": 0.04,
    "nickname": 0.10,  # of those whose name has one
    "dob_swapped": 0.03,  # day <= 12 only: otherwise the date would not exist
    "dob_typo": 0.02,
    "moved": 0.08,
    "postcode_missing": 0.04,
    "sex_missing": 0.02,
    "initial_wrong": 0.02,
}
LETTERS = "ABCDEFGHIJKLMNOPRSTW"


class Noise:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def _hit(self, kind: str) -> bool:
        return bool(self.rng.random() < RATES[kind])

    def typo(self, name: str) -> str:
        """One letter substituted, dropped or two swapped (never the first letter)."""
        if len(name) < 3:
            return name
        i = int(self.rng.integers(1, len(name) - 1))
        kind = int(self.rng.integers(0, 3))
        if kind == 0:
            return name[:i] + str(self.rng.choice(list("aeiourstln"))) + name[i + 1 :]
        if kind == 1:
            return name[:i] + name[i + 1 :]
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]

    def first_name(self, name: str) -> str:
        if name in NICKNAMES and self._hit("nickname"):
            return NICKNAMES[name]
        return self.typo(name) if self._hit("name_typo") else name

    def surname(self, name: str) -> str:
        return self.typo(name) if self._hit("name_typo") else name

    def initials(self, initials: str) -> str:
        if self._hit("initial_wrong"):
            i = int(self.rng.integers(0, 2))
            letter = str(self.rng.choice(list(LETTERS)))
            return initials[:i] + letter + initials[i + 1 :]
        return initials

    def dob(self, dob: date) -> date:
        if dob.day <= 12 and dob.day != dob.month and self._hit("dob_swapped"):
            return dob.replace(month=dob.day, day=dob.month)
        if self._hit("dob_typo"):
            day = dob.day + int(self.rng.choice([-10, -1, 1, 10]))
            if 1 <= day <= 28:
                return dob.replace(day=day)
        return dob

    def postcode(self, full: str, la_code: str) -> str:
        """The postcode as the partner holds it: moved, missing ('') or as given."""
        if self._hit("moved"):
            return postcode(self.rng, la_code)
        return "" if self._hit("postcode_missing") else full

    def sex(self, female: bool) -> str:
        return "" if self._hit("sex_missing") else ("F" if female else "M")
