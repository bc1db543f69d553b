"""Linkage results into the ``linkage`` schema (no BI role has USAGE on it).

``partner_record_links``: each partner record linked at or above its source's threshold
(the dbt mart ``fct_partner_record_links`` reads it through staging).
``clerical_review``: the grey zone, both sides of the threshold: keys, probability and
the comparison levels (which fields agreed how), for a clerk to check in the source
systems. ``model_runs``: the threshold, grey zone and prior of each source's model.
Each run replaces a source's rows in one transaction, so a re-run changes nothing else.
"""

from __future__ import annotations

from typing import Any

DDL = """
create schema if not exists linkage;
revoke all on schema linkage from public;
create table if not exists linkage.partner_record_links (
    partner_source text not null,
    partner_record_id text not null,
    offender_id bigint not null,
    match_probability double precision not null,
    match_weight double precision not null,
    match_band text not null,
    primary key (partner_source, partner_record_id)
);
create table if not exists linkage.clerical_review (
    partner_source text not null,
    partner_record_id text not null,
    offender_id bigint not null,
    match_probability double precision not null,
    match_weight double precision not null,
    is_linked boolean not null,
    agreement text not null,
    primary key (partner_source, partner_record_id)
);
create table if not exists linkage.model_runs (
    partner_source text primary key,
    partner_records integer not null,
    links integer not null,
    threshold_probability double precision not null,
    review_lower_probability double precision not null,
    review_upper_probability double precision not null,
    prior_probability double precision not null,
    clusters_with_two_offenders integer not null,
    run_at timestamptz not null default now()
);
"""


def write_results(conn: Any, results: list[Any]) -> None:
    with conn.transaction():
        conn.execute(DDL)
        for r in results:
            for table in ("partner_record_links", "clerical_review", "model_runs"):
                conn.execute(
                    f"delete from linkage.{table} where partner_source = %s",  # noqa: S608
                    (r.source,),
                )
            links = r.links()
            with conn.cursor().copy(
                "copy linkage.partner_record_links (partner_source, partner_record_id,"
                " offender_id, match_probability, match_weight, match_band) from stdin"
            ) as copy:
                for row in links.itertuples(index=False):
                    copy.write_row(
                        (
                            r.source,
                            row.partner_record_id,
                            int(row.offender_id),
                            row.match_probability,
                            row.match_weight,
                            r.band(row.match_probability),
                        )
                    )
            with conn.cursor().copy(
                "copy linkage.clerical_review (partner_source, partner_record_id, offender_id,"
                " match_probability, match_weight, is_linked, agreement) from stdin"
            ) as copy:
                for row in r.review().itertuples(index=False):
                    copy.write_row(
                        (
                            r.source,
                            row.partner_record_id,
                            int(row.offender_id),
                            row.match_probability,
                            row.match_weight,
                            row.match_probability >= r.threshold,
                            row.agreement,
                        )
                    )
            lower, upper = r.grey_zone
            conn.execute(
                "insert into linkage.model_runs (partner_source, partner_records, links,"
                " threshold_probability, review_lower_probability, review_upper_probability,"
                " prior_probability, clusters_with_two_offenders)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    r.source,
                    r.records,
                    len(links),
                    r.threshold,
                    lower,
                    upper,
                    r.prior,
                    r.clusters_with_two_offenders,
                ),
            )
