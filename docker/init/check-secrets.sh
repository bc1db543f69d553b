#!/usr/bin/env bash
# The compose stack's first step: refuse to start with a secret that is missing, empty, a
# placeholder, short, not URL-safe, or the same as another secret.
#   usage: check-secrets.sh VAR [VAR ...]     (values are read from the environment)
# Exits 0 when every named secret is usable, 1 otherwise, naming each bad variable (never
# printing a value). docker-compose.yml already refuses unset or empty variables (${VAR:?});
# this catches what interpolation cannot.
set -u

min_length=24
status=0
declare -A owner_of=()

fail() {
    printf 'secrets-check: %s %s\n' "$1" "$2" >&2
    status=1
}

if [ "$#" -eq 0 ]; then
    echo "usage: check-secrets.sh VAR [VAR ...]" >&2
    exit 2
fi

for name in "$@"; do
    if [[ ! $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
        fail "$name" "is not a variable name"
        continue
    fi
    if [ -z "${!name+set}" ]; then
        fail "$name" "is not set: give it a value in .env (see docker/env.example)"
        continue
    fi
    value=${!name}
    if [ -z "$value" ]; then
        fail "$name" "is empty: give it a value in .env (see docker/env.example)"
        continue
    fi
    case "${value,,}" in
        *change-me* | *change_me* | *changeme* | *placeholder* | *example* | *password* | \
            *secret* | *replace* | *your-* | *your_* | *xxxx* | *todo* | *test*)
            fail "$name" "is a placeholder or example value: generate a real one (see docker/env.example)"
            continue
            ;;
    esac
    if [ "${#value}" -lt "$min_length" ]; then
        fail "$name" "is too short (${#value} characters; at least $min_length): generate a real one (see docker/env.example)"
        continue
    fi
    if [[ ! $value =~ ^[A-Za-z0-9_=-]+$ ]]; then
        fail "$name" "must be URL-safe (letters, digits, '-', '_', '='): it goes into connection URLs"
        continue
    fi
    distinct=$(printf '%s' "$value" | fold -w1 | sort -u | wc -l)
    if [ "$distinct" -lt 10 ]; then
        fail "$name" "has only $distinct distinct characters: generate a random one"
        continue
    fi
    if [[ $name == *FERNET_KEY && ! $value =~ ^[A-Za-z0-9_-]{43}=$ ]]; then
        fail "$name" "is not a Fernet key (32 bytes, url-safe base64: 44 characters ending in '=')"
        continue
    fi
    if [ -n "${owner_of[$value]:-}" ]; then
        fail "$name" "has the same value as ${owner_of[$value]}: every secret must be its own"
        continue
    fi
    owner_of[$value]=$name
done

if [ "$status" -eq 0 ]; then
    echo "secrets-check: $# secrets set"
fi
exit "$status"
