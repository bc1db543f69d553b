-- Offender management tiers (tier 0 = no tier recorded).
with

final as (
    select * from (
        values
        (1, 'Tier 1', 'punish'),
        (2, 'Tier 2', 'punish and help'),
        (3, 'Tier 3', 'punish, help and change'),
        (4, 'Tier 4', 'punish, help, change and control'),
        (0, 'Missing', 'no tier recorded')
    ) as tiers (tier, tier_name, intervention_model)
)

select * from final
