"""Where people live: postcode areas by district and the postcode format (defined once)."""

from __future__ import annotations

import numpy as np

POSTCODE_AREAS = {
    "E08000001": "BL",
    "E08000002": "BL",
    "E08000003": "M",
    "E08000004": "OL",
    "E08000005": "OL",
    "E08000006": "M",
    "E08000007": "SK",
    "E08000008": "SK",
    "E08000009": "M",
    "E08000010": "WN",
}
INWARD_LETTERS = list("ABDEFGHJLNPQRSTUWXYZ")


def postcode(rng: np.random.Generator, la_code: str) -> str:
    """A full postcode in the district's area, e.g. ``M14 5QT`` (outward, space, inward)."""
    return (
        f"{POSTCODE_AREAS[la_code]}{int(rng.integers(1, 35))} {int(rng.integers(1, 9))}"
        + "".join(rng.choice(INWARD_LETTERS, 2))
    )


def postcode_district(full: str) -> str:
    """The outward code (``M14``) of a full postcode: what DAT returns carry."""
    return full.split(" ")[0]
