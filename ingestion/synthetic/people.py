"""The offender pool and the id counters the simulation shares."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date


@dataclass
class People:
    """The offender pool, as columns (no per-person objects: it scales to national size).

    Offender ``pid`` (1-based, the nDelius OFFENDER_ID) is at index ``pid - 1``."""

    crn: list[str] = field(default_factory=list)
    dob: list[date] = field(default_factory=list)
    female: list[bool] = field(default_factory=list)
    white_british: list[bool] = field(default_factory=list)
    la: list[str] = field(default_factory=list)
    postcode: list[str] = field(default_factory=list)
    first_name: list[str] = field(default_factory=list)
    surname: list[str] = field(default_factory=list)
    sanctions: list[int] = field(default_factory=list)
    supervised_until: list[date] = field(default_factory=list)
    last_sentenced: list[date] = field(default_factory=list)
    drug_need: list[bool] = field(default_factory=list)
    accommodation_need: list[bool] = field(default_factory=list)
    first_sanction: list[date] = field(default_factory=list)
    last_offence: list[str] = field(default_factory=list)  # category of the latest event
    last_conviction: list[date] = field(default_factory=list)
    # the follow-up years drawn "no reoffence" (index, end]: no offence may fall in one
    clean: dict[int, list[tuple[date, date]]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.crn)

    def add(self, *, sentenced: date, **identity: object) -> None:
        """A new offender: ``identity`` gives crn, dob, female, white_british, la, postcode,
        first_name, surname, sanctions and first_sanction; the rest starts at ``sentenced``."""
        for name, value in identity.items():
            getattr(self, name).append(value)
        self.supervised_until.append(sentenced)
        self.last_sentenced.append(sentenced)
        self.drug_need.append(False)
        self.accommodation_need.append(False)
        self.last_offence.append("")
        self.last_conviction.append(sentenced)

    def initials(self, i: int) -> str:
        return self.first_name[i][0] + self.surname[i][0]


class Ids:
    """Sequential ids, one counter per kind of record (``next("event")`` -> 1, 2, ...)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = defaultdict(int)

    def next(self, kind: str) -> int:
        self.counts[kind] += 1
        return self.counts[kind]
