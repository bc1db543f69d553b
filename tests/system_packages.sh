#!/bin/sh
# The system programs the pack's browser test needs: Debian's chromium (driven by
# Playwright's Python API through executable_path) and pdftoppm (poppler-utils).
# As root (as CI runs) they are installed with apt-get; otherwise this says what to install.
# Exit 0 when both are present, 1 otherwise.
PACKAGES="chromium poppler-utils"
missing() { ! command -v chromium >/dev/null 2>&1 || ! command -v pdftoppm >/dev/null 2>&1; }
if ! missing; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing $PACKAGES (apt-get) for the JSNA pack's browser test"
    export DEBIAN_FRONTEND=noninteractive
    # apt's key check needs a writable TMPDIR (some sandboxes have a read-only /tmp)
    TMPDIR="${TMPDIR:-/var/tmp}" apt-get update -qq >/dev/null \
        && TMPDIR="${TMPDIR:-/var/tmp}" apt-get install -y -qq $PACKAGES >/dev/null
fi
if missing; then
    echo "The JSNA pack's browser test needs chromium and pdftoppm. Install them with:" >&2
    echo "    sudo apt-get install -y $PACKAGES" >&2
    exit 1
fi
