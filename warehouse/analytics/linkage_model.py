"""The Splink models: one per partner source, each linking its records to the offenders.

Fellegi-Sunter with unsupervised training, as the MoJ's Splink does it: u from random
sampling of record pairs (almost all non-matches), m by expectation maximisation within
blocks, the prior (the probability that two random records match) from deterministic
rules. Comparisons use only what both sides hold: DAT's attributor (initials, date of
birth, sex) and partial postcode; Supporting People's name, date of birth, sex and full
postcode. The date of birth has a level for day and month swapped, the commonest
clerical error in these returns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import block_on

# u from this many random pairs: Splink's default (it logs that 1e7 or more may be more
# accurate; the figures in docs/design.md were measured with 1e6, larger is untried)
U_MAX_PAIRS = 1e6
SEED = 20090331
DUCKDB_MEMORY = "40%"  # of the machine's memory, per source's database (two at once)


def _dob_comparison() -> Any:
    """Exact; day and month swapped; one character typed wrong; the same year; else."""
    swapped = (
        "substr(dob_l, 1, 4) = substr(dob_r, 1, 4) "
        "and substr(dob_l, 6, 2) = substr(dob_r, 9, 2) "
        "and substr(dob_l, 9, 2) = substr(dob_r, 6, 2)"
    )
    return cl.CustomComparison(
        output_column_name="dob",
        comparison_levels=[
            cll.NullLevel("dob"),
            cll.ExactMatchLevel("dob"),
            cll.CustomLevel(swapped, label_for_charts="day and month swapped"),
            cll.DamerauLevenshteinLevel("dob", 1),
            cll.CustomLevel("substr(dob_l, 1, 4) = substr(dob_r, 1, 4)", "same year"),
            cll.ElseLevel(),
        ],
    )


def _initials_comparison() -> Any:
    """Both initials; the first (a new surname, or a mistyped second letter); else."""
    return cl.CustomComparison(
        output_column_name="initials",
        comparison_levels=[
            cll.NullLevel("initials"),
            cll.ExactMatchLevel("initials"),
            cll.CustomLevel("substr(initials_l, 1, 1) = substr(initials_r, 1, 1)", "first"),
            cll.CustomLevel("substr(initials_l, 2, 1) = substr(initials_r, 2, 1)", "second"),
            cll.ElseLevel(),
        ],
    )


def _location_comparison(full_postcode: bool) -> Any:
    """Where the person lives, most specific first: the full postcode (SP only); the
    postcode district; the district (LA: a move within it); else. One comparison, not
    three: the postcode determines the LA, and comparing both separately counted the same
    agreement twice (measured on the 0.2-scale dataset: DAT precision 0.79, as EM took
    same-district pairs for matches). Splink's PostcodeComparison has sector and distance
    levels instead: a sector-only agreement is too rare here for EM to estimate its m."""
    levels = [cll.NullLevel("postcode_district")]
    if full_postcode:
        levels.append(cll.ExactMatchLevel("postcode"))
    levels += [
        cll.ExactMatchLevel("postcode_district"),
        cll.ExactMatchLevel("la_code"),
        cll.ElseLevel(),
    ]
    return cl.CustomComparison(output_column_name="location", comparison_levels=levels)


@dataclass(frozen=True)
class SourceModel:
    """How one partner source is linked to the offenders."""

    source: str  # partner_source in the results
    comparisons: tuple[Any, ...]
    blocking: tuple[Any, ...]  # rules generating the pairs scored
    training_blocks: tuple[Any, ...]  # EM blocks: each leaves some comparisons free
    deterministic: tuple[Any, ...]  # rules for the prior (near-certain matches)

    def settings(self) -> Any:
        from splink import SettingsCreator

        return SettingsCreator(
            link_type="link_only",
            unique_id_column_name="unique_id",
            comparisons=list(self.comparisons),
            blocking_rules_to_generate_predictions=list(self.blocking),
            retain_intermediate_calculation_columns=True,
            retain_matching_columns=False,
        )

    @property
    def uses_term_frequencies(self) -> bool:
        """Whether any comparison level adjusts its weight by how common the value is
        (Splink's ``NameComparison`` does on an exact match of the name)."""
        return any(
            level.get("tf_adjustment_column")
            for comparison in self.comparisons
            for level in comparison.get_comparison("duckdb").as_dict()["comparison_levels"]
        )


DAT = SourceModel(
    source="dat",
    comparisons=(
        _initials_comparison(),
        _dob_comparison(),
        cl.ExactMatch("sex"),
        _location_comparison(full_postcode=False),
    ),
    blocking=(
        block_on("dob"),
        block_on("initials", "dob_year"),
        block_on("initials", "postcode_district"),
    ),
    # the date of birth's m from pairs sharing initials and sex, where the date and the
    # location are both free to tell matches apart (blocking on initials and postcode
    # district left only the date free: EM then put 34 % of matches at "different date
    # of birth" and the grey zone held 638 of 3,752 records on the 0.2-scale data; 59 now)
    training_blocks=(block_on("dob"), block_on("initials", "sex")),
    deterministic=(block_on("dob", "initials", "sex"),),
)

SUPPORTING_PEOPLE = SourceModel(
    source="supporting_people",
    comparisons=(
        cl.NameComparison("first_name"),
        cl.NameComparison("surname"),
        _dob_comparison(),
        cl.ExactMatch("sex"),
        _location_comparison(full_postcode=True),
    ),
    blocking=(
        block_on("dob"),
        block_on("surname", "dob_year"),
        block_on("first_name", "surname", "postcode_district"),
    ),
    training_blocks=(block_on("dob"), block_on("first_name", "surname")),
    deterministic=(block_on("dob", "surname", "first_name"),),
)

MODELS = (DAT, SUPPORTING_PEOPLE)


def train(model: SourceModel, partner: Any, offenders: Any) -> Any:
    """A trained Splink linker for ``partner`` (pandas) against ``offenders`` (pandas)."""
    import duckdb
    from splink import DuckDBAPI, Linker

    # the sources are linked side by side: each database may take 40 % of the memory (DuckDB
    # takes 80 % by default), and Splink's own log set-up (a handler added when none is
    # found) is not run from two threads at once: its records go to the process's handlers
    logging.getLogger("splink").setLevel(logging.WARNING)
    db_api = DuckDBAPI(connection=duckdb.connect(config={"memory_limit": DUCKDB_MEMORY}))
    left = db_api.register(partner, table_name=f"partner_{model.source}")
    right = db_api.register(offenders, table_name="offenders")
    linker = Linker([left, right], model.settings(), log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        list(model.deterministic), recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=SEED)
    # without term-frequency adjustments, a pair's match probability depends only on its
    # comparison vector: EM over the counts of each agreement pattern is the same EM as
    # over every pair (the same sums, grouped), ~2x faster for DAT (16 -> 8 s, its links,
    # bands and probabilities equal to 1e-10); with them (Supporting People's names) it
    # would be an approximation, so that source runs EM over the pairs
    by_pattern = not model.uses_term_frequencies
    for block in model.training_blocks:
        linker.training.estimate_parameters_using_expectation_maximisation(
            block, estimate_without_term_frequencies=by_pattern
        )
    return linker
