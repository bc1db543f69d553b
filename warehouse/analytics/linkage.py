"""Partner record linkage: DAT episodes and Supporting People clients -> offenders.

The conductor (``warehouse link``, the analytics DAG's ``link`` task):

1. read the identifiers from staging (never the marts, which carry none): offenders'
   names, date of birth, sex and postcode, and each partner's own;
2. per partner source, train an unsupervised Splink model (``linkage_model``: u by random
   sampling, m by EM, the prior from deterministic rules) and score the blocked pairs;
3. keep each partner record's best candidate and choose the threshold from the model
   (``choose_threshold``: the one that maximises the F1 the model itself expects);
4. cluster the pairs at that threshold (a cluster holding two offenders is counted);
5. write the links, the clerical-review list (the grey zone around the threshold) and
   the run's figures to the ``linkage`` schema, which no BI role can read; the dbt mart
   ``fct_partner_record_links`` carries keys and probabilities only.

Nothing here logs a name, a date of birth or a postcode.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from warehouse.settings import Settings

log = logging.getLogger(__name__)
SCHEMA = "linkage"
GREY_ZONE_ODDS = 10.0  # clerical review: odds within x10 either side of the threshold's
COLUMNS = (
    "unique_id",
    "first_name",
    "surname",
    "initials",
    "dob",
    "dob_year",
    "sex",
    "postcode",
    "postcode_district",
    "la_code",
)
OFFENDERS_SQL = """
select
    offender_id::text as unique_id,
    upper(first_name) as first_name,
    upper(surname) as surname,
    upper(left(first_name, 1) || left(surname, 1)) as initials,
    to_char(date_of_birth, 'YYYY-MM-DD') as dob,
    to_char(date_of_birth, 'YYYY') as dob_year,
    gender_code as sex,
    upper(postcode) as postcode,
    split_part(upper(postcode), ' ', 1) as postcode_district,
    la_code
from staging.stg_ndelius__offenders
where not coalesce(is_deleted, false)
"""
PARTNER_SQL = {
    "dat": """
select
    treatment_episode_id as unique_id,
    null::text as first_name,
    null::text as surname,
    upper(initials) as initials,
    to_char(date_of_birth, 'YYYY-MM-DD') as dob,
    to_char(date_of_birth, 'YYYY') as dob_year,
    gender as sex,
    null::text as postcode,
    nullif(upper(postcode_district), '') as postcode_district,
    la_code
from staging.stg_dat__treatment_episodes
""",
    "supporting_people": """
select
    client_record_id as unique_id,
    upper(first_name) as first_name,
    upper(surname) as surname,
    upper(left(first_name, 1) || left(surname, 1)) as initials,
    to_char(date_of_birth, 'YYYY-MM-DD') as dob,
    to_char(date_of_birth, 'YYYY') as dob_year,
    nullif(gender, '') as sex,
    nullif(upper(postcode), '') as postcode,
    nullif(split_part(upper(postcode), ' ', 1), '') as postcode_district,
    la_code
from staging.stg_supporting_people__clients
""",
}


@dataclass
class SourceResult:
    """One partner source's linkage: best candidates, the threshold and clusters."""

    source: str
    records: int
    best: Any  # pandas: partner_record_id, offender_id, match_probability, match_weight, agreement
    threshold: float
    prior: float
    clusters_with_two_offenders: int

    @property
    def grey_zone(self) -> tuple[float, float]:
        return grey_zone(self.threshold)

    def band(self, probability: float) -> str:
        return band(probability, self.threshold)

    def links(self) -> Any:
        return self.best[self.best.match_probability >= self.threshold]

    def review(self) -> Any:
        lower, upper = self.grey_zone
        p = self.best.match_probability
        return self.best[(p >= lower) & (p < upper)]


def grey_zone(threshold: float) -> tuple[float, float]:
    """Probabilities whose odds are within ``GREY_ZONE_ODDS`` of the threshold's."""
    t = min(max(threshold, 1e-9), 1 - 1e-9)
    odds = t / (1 - t)
    low, high = odds / GREY_ZONE_ODDS, odds * GREY_ZONE_ODDS
    return low / (1 + low), high / (1 + high)


def choose_threshold(probabilities: Any) -> float:
    """The match probability that maximises the F1 the model expects of itself.

    Each partner record's best candidate is a true link with its match probability p (if
    the model is calibrated), so accepting those with p >= t expects TP = sum(p >= t),
    FP = count(p >= t) - TP and FN = sum(p < t); F1 = 2 TP / (count(p >= t) + sum(p)).
    No truth is used: the threshold comes from the model alone."""
    import numpy as np

    p = np.sort(np.asarray(probabilities, dtype=float))[::-1]
    if not len(p):
        return 0.5
    tp = np.cumsum(p)
    f1 = 2 * tp / (np.arange(1, len(p) + 1) + p.sum())
    return float(p[int(np.argmax(f1))])


def band(probability: float, threshold: float) -> str:
    """``high`` above the grey zone; ``review`` in it at or above the threshold."""
    return "high" if probability >= grey_zone(threshold)[1] else "review"


def run(settings: Settings) -> dict[str, float | str]:
    """Link every partner source; write the results; return the figures measured."""
    from warehouse.analytics.linkage_model import MODELS
    from warehouse.analytics.linkage_store import write_results
    from warehouse.db import connect

    with connect(settings) as conn:
        offenders = _read(conn, OFFENDERS_SQL)
        partners = [_read(conn, PARTNER_SQL[model.source]) for model in MODELS]
        # one thread per source: each has its own DuckDB database, which releases the GIL
        # while a query runs, and one model's queries leave the cores idle part of the time
        with ThreadPoolExecutor(len(MODELS), thread_name_prefix="link") as pool:
            results = list(pool.map(link_source, MODELS, partners, [offenders] * len(MODELS)))
        write_results(conn, results)
    figures: dict[str, float | str] = {"offenders": float(len(offenders))}
    for r in results:
        figures[f"{r.source}_records"] = float(r.records)
        figures[f"{r.source}_links"] = float(len(r.links()))
        figures[f"{r.source}_review"] = float(len(r.review()))
        figures[f"{r.source}_threshold"] = round(r.threshold, 4)
        figures[f"{r.source}_clusters_with_two_offenders"] = float(r.clusters_with_two_offenders)
    log.info("linkage: %s", figures)
    return figures


def _read(conn: Any, sql: str) -> Any:
    import pandas as pd

    rows = conn.execute(sql).fetchall()
    return pd.DataFrame(rows, columns=list(COLUMNS)).astype(object).where(lambda d: d.notna(), None)


def link_source(model: Any, partner: Any, offenders: Any) -> SourceResult:
    """Train, predict, pick each record's best candidate, choose the threshold, cluster."""
    from warehouse.analytics.linkage_model import train

    linker = train(model, partner, offenders)
    floor = 1e-4  # candidates below this cannot reach any sensible grey zone
    predictions = linker.inference.predict(threshold_match_probability=floor)
    pairs = _partner_offender_pairs(predictions.as_pandas_dataframe())
    best = _best_candidates(pairs)
    threshold = choose_threshold(best.match_probability.to_numpy())
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold
    ).as_pandas_dataframe()
    offenders_per_cluster = clusters[clusters.source_dataset == "offenders"].groupby("cluster_id")
    prior = float(linker._settings_obj._probability_two_random_records_match)  # noqa: SLF001
    return SourceResult(
        source=model.source,
        records=len(partner),
        best=best,
        threshold=threshold,
        prior=prior,
        clusters_with_two_offenders=int((offenders_per_cluster.size() > 1).sum()),
    )


def _partner_offender_pairs(df: Any) -> Any:
    """Predictions as (partner_record_id, offender_id, probability, weight, agreement:
    each comparison's match weight), whichever side Splink put each dataset on."""
    import pandas as pd

    left_is_partner = df.source_dataset_l != "offenders"
    weights = sorted(c for c in df.columns if c.startswith("mw_"))
    parts = [f"{c[3:]}=" + df[c].map("{:+.1f}".format).astype(str) for c in weights]
    agreement = parts[0].str.cat(parts[1:], sep=" ") if parts else ""
    return pd.DataFrame(
        {
            "partner_record_id": df.unique_id_l.where(left_is_partner, df.unique_id_r),
            "offender_id": df.unique_id_r.where(left_is_partner, df.unique_id_l).astype(int),
            "match_probability": df.match_probability.astype(float),
            "match_weight": df.match_weight.astype(float),
            "agreement": agreement,
        }
    )


def _best_candidates(pairs: Any) -> Any:
    """Each partner record's most probable offender (ties: the lower offender id)."""
    ordered = pairs.sort_values(
        ["partner_record_id", "match_probability", "offender_id"], ascending=[True, False, True]
    )
    return ordered.drop_duplicates("partner_record_id").reset_index(drop=True)


def scores_against_truth(conn: Any, truth_file: Any) -> dict[str, float]:
    """Precision and recall of the stored links against the generator's planted truth.

    Only records the warehouse holds count: a true link whose partner record or offender
    was quarantined at load cannot be found by any linkage, so it is left out of recall
    (and counted in ``truth_links_not_loaded``)."""
    import csv
    from pathlib import Path

    with Path(truth_file).open(encoding="utf-8") as f:
        truth = {
            (r["partner_source"], r["partner_record_id"]): int(r["offender_id"])
            for r in csv.DictReader(f)
        }
    loaded_partner = {
        (source, rid)
        for source, sql in PARTNER_SQL.items()
        for (rid,) in conn.execute(f"select unique_id from ({sql}) as p").fetchall()  # noqa: S608
    }
    loaded_offenders = {
        int(i) for (i,) in conn.execute(f"select unique_id from ({OFFENDERS_SQL}) as o").fetchall()
    }  # noqa: S608
    findable = {k: v for k, v in truth.items() if k in loaded_partner and v in loaded_offenders}
    links = {
        (source, rid): int(oid)
        for source, rid, oid in conn.execute(
            "select partner_source, partner_record_id, offender_id from linkage.partner_record_links"
        ).fetchall()
    }
    correct = sum(1 for k, oid in links.items() if findable.get(k) == oid)
    return {
        "linkage_precision": correct / len(links) if links else 0.0,
        "linkage_recall": correct / len(findable) if findable else 0.0,
        "links": float(len(links)),
        "true_links": float(len(findable)),
        "truth_links_not_loaded": float(len(truth) - len(findable)),
    }


def score(settings: Settings) -> dict[str, float]:
    """The stored links against the truth the generator planted beside the landing folder."""
    from ingestion.synthetic.generator import truth_path
    from warehouse.db import connect

    with connect(settings) as conn:
        return scores_against_truth(conn, truth_path(settings.landing_dir))


def link_and_score(settings: Settings) -> dict[str, float | str]:
    """Run the linkage and score it (for the bench); prints
    ``linkage_precision=<p> linkage_recall=<r>``."""
    figures = run(settings)
    figures.update(score(settings))
    print(
        f"linkage_precision={figures['linkage_precision']:.4f} "
        f"linkage_recall={figures['linkage_recall']:.4f}"
    )
    return figures
