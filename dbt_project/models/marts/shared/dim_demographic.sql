-- Demographic bands: gender x age band x ethnicity group (every combination).
with

genders as (
    select * from (
        values ('M', 'Male'), ('F', 'Female'), ('U', 'Unknown')
    ) as g (gender_code, gender_name)
),

age_bands as (
    select * from (
        values
        ('18-20', 1), ('21-24', 2), ('25-29', 3), ('30-39', 4), ('40-49', 5), ('50+', 6),
        ('Unknown', 9)
    ) as a (age_band, age_band_order)
),

ethnicity_groups as (
    select distinct ethnicity_group from {{ ref('ref_ethnicity') }}
    union
    select 'Unknown'
),

final as (
    select
        {{ surrogate_key(
            ['genders.gender_code', 'age_bands.age_band', 'ethnicity_groups.ethnicity_group']
        ) }}
            as demographic_id,
        genders.gender_code,
        genders.gender_name,
        age_bands.age_band,
        age_bands.age_band_order,
        ethnicity_groups.ethnicity_group
    from genders
    cross join age_bands
    cross join ethnicity_groups
)

select * from final
