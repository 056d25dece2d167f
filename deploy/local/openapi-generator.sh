#!/usr/bin/env bash
# The OpenAPI Generator CLI (org.openapitools:openapi-generator-cli, one self-contained jar)
# from Maven Central into $TESSERA_LOCAL/openapi-generator/, once; tests/contract runs it with
# the machine's Java 17 to check that clients generate from the gateway's document.
#
# Usage: deploy/local/openapi-generator.sh   (prints the jar's path)
#
# Environment (defaults):
#   TESSERA_LOCAL               <repo root>/.local
#   OPENAPI_GENERATOR_VERSION   7.27.0
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
TESSERA_LOCAL="$(realpath -m "${TESSERA_LOCAL:-$REPO_ROOT/.local}")"
VERSION="${OPENAPI_GENERATOR_VERSION:-7.27.0}"
DIR="$TESSERA_LOCAL/openapi-generator"
JAR="$DIR/openapi-generator-cli-$VERSION.jar"

log() { printf 'openapi-generator.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [[ ! -s "$JAR" ]]; then
    command -v mvn >/dev/null 2>&1 || die "mvn not found (Debian: apt-get install -y maven)"
    mkdir -p "$DIR"
    exec 8>"$DIR/.fetch.lock"
    flock 8  # concurrent fetches wait for the first one
    if [[ ! -s "$JAR" ]]; then
        log "fetching openapi-generator-cli $VERSION from Maven Central ..."
        tmp="$(mktemp -d "$DIR/tmp.XXXXXX")"
        trap 'rm -rf "$tmp"' EXIT
        mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
            -Dartifact="org.openapitools:openapi-generator-cli:$VERSION" -DoutputDirectory="$tmp" >"$tmp.log" 2>&1 \
            || { cat "$tmp.log" >&2; rm -f "$tmp.log"; die "maven fetch failed"; }
        rm -f "$tmp.log"
        [[ -s "$tmp/openapi-generator-cli-$VERSION.jar" ]] || die "maven fetch produced no jar in $tmp"
        mv "$tmp/openapi-generator-cli-$VERSION.jar" "$JAR"
    fi
fi
printf '%s\n' "$JAR"
