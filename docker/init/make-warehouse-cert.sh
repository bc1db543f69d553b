#!/usr/bin/env bash
# The warehouse's TLS certificate, made once by the compose init step and kept in the
# warehouse-tls volume: a self-signed certificate (CN and SAN "warehouse", the host name
# clients use inside the stack, plus localhost) and its private key.
#   usage: make-warehouse-cert.sh DIR [OWNER]     OWNER: uid:gid of the server (default
#                                                 999:999, the postgres user of the image)
# The key is written 0600 from the start (umask 077; never chmod-ed afterwards), then given to
# OWNER when we run as root: PostgreSQL refuses a key that others can read.
set -euo pipefail

dir=${1:?usage: make-warehouse-cert.sh DIR [OWNER]}
owner=${2:-999:999}
days=825

if ! command -v openssl > /dev/null; then
    echo "warehouse-tls: openssl not found" >&2
    exit 1
fi

crt=$dir/server.crt
key=$dir/server.key
if [ -s "$crt" ] && [ -s "$key" ] && [ "$(stat -c %a "$key")" = 600 ] \
    && openssl x509 -in "$crt" -noout -checkend 2592000 > /dev/null; then
    echo "warehouse-tls: keeping the certificate in $dir (valid for 30 more days at least)"
    exit 0
fi

mkdir -p -m 0755 "$dir" # the server (OWNER) must reach the files in it
umask 077
work=$(mktemp -d "$dir/.new.XXXXXX")
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days "$days" \
    -subj "/CN=warehouse" \
    -addext "subjectAltName=DNS:warehouse,DNS:localhost,IP:127.0.0.1" \
    -keyout "$work/server.key" -out "$work/server.crt" 2> "$work/openssl.log" \
    || { cat "$work/openssl.log" >&2; exit 1; }
if [ "$(id -u)" = 0 ]; then
    chown "$owner" "$work/server.key" "$work/server.crt"
fi
mv -f "$work/server.key" "$key"
mv -f "$work/server.crt" "$crt"
echo "warehouse-tls: new self-signed certificate in $dir, valid $days days:"
openssl x509 -in "$crt" -noout -subject -enddate -fingerprint -sha256
