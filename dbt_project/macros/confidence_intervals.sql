{#- 95 % confidence intervals and the comparisons built on them, as the public-health
    profiles (PHE Fingertips) compute them. Each macro returns a double precision SQL
    expression; the arguments are SQL expressions. z is the 97.5th percentile of the
    standard normal distribution. See README "JSNA statistics" for the references. -#}

{% macro ci_z() -%}1.959963984540054{%- endmacro %}

{#- Wilson score interval for a proportion k / n (Wilson 1927; Newcombe 1998, method 3).
    Null when n = 0; k = 0 gives a lower limit of 0 and k = n an upper limit of 1. -#}
{% macro wilson_ci(count, denominator, bound) -%}
    {%- set z = ci_z() -%}
    {%- set k = '(' ~ count ~ ')::double precision' -%}
    {%- set n = '(' ~ denominator ~ ')::double precision' -%}
    {%- set sign = '-' if bound == 'lower' else '+' -%}
    {%- set clamp = 'greatest(0.0, ' if bound == 'lower' else 'least(1.0, ' -%}
    case when {{ n }} > 0 then {{ clamp }}
        ({{ k }} + {{ z }} * {{ z }} / 2 {{ sign }} {{ z }} * sqrt(
            greatest(0.0, {{ k }} * ({{ n }} - {{ k }}) / {{ n }}) + {{ z }} * {{ z }} / 4
        )) / ({{ n }} + {{ z }} * {{ z }})
    ) end
{%- endmacro %}

{#- Byar's approximation to the exact Poisson interval of a count O (Breslow & Day 1987;
    PHE technical guide 2018): lower O (1 - 1/(9 O) - z / (3 sqrt O))^3, upper
    (O + 1) (1 - 1/(9 (O + 1)) + z / (3 sqrt(O + 1)))^3; the lower limit of O = 0 is 0.
    Against the exact limits (chi-square quantiles): within 0.2 % from O = 10, 6e-6 at the
    smallest count of a JSNA rate (233); at O = 1 the lower limit is half the exact one
    (counts under 10 are flagged small and not compared). -#}
{% macro byar_ci(count, bound) -%}
    {%- set z = ci_z() -%}
    {%- set o = '(' ~ count ~ ')::double precision' -%}
    {%- if bound == 'lower' -%}
    case when {{ o }} > 0 then
        {{ o }} * power(1 - 1 / (9 * {{ o }}) - {{ z }} / (3 * sqrt({{ o }})), 3)
    when {{ o }} = 0 then 0.0 end
    {%- else -%}
    ({{ o }} + 1) * power(1 - 1 / (9 * ({{ o }} + 1)) + {{ z }} / (3 * sqrt({{ o }} + 1)), 3)
    {%- endif -%}
{%- endmacro %}

{#- A rate per `per` population: count / population x per, and its Byar limits. -#}
{% macro rate_ci(count, population, bound, per=1000) -%}
    ({{ byar_ci(count, bound) }}) * {{ per }} / nullif({{ population }}, 0)::double precision
{%- endmacro %}

{#- Fingertips' comparison of an interval with a benchmark: 'higher' when the whole interval
    lies above the benchmark's upper end, 'lower' when below its lower end, else 'similar';
    named 'better' / 'worse' by the indicator's polarity ('higher_is_worse',
    'higher_is_better', 'none'). Against a value (Greater Manchester), pass it as both ends;
    against another interval (last year), the intervals must not overlap (conservative).
    Null when anything is missing. -#}
{% macro compare_interval(lower, upper, benchmark_lower, benchmark_upper, polarity) -%}
    case
        when {{ lower }} is null or {{ upper }} is null
            or {{ benchmark_lower }} is null or {{ benchmark_upper }} is null then null
        when {{ lower }} > {{ benchmark_upper }} then
            case {{ polarity }} when 'higher_is_worse' then 'worse'
                when 'higher_is_better' then 'better' else 'higher' end
        when {{ upper }} < {{ benchmark_lower }} then
            case {{ polarity }} when 'higher_is_worse' then 'better'
                when 'higher_is_better' then 'worse' else 'lower' end
        else 'similar'
    end
{%- endmacro %}
