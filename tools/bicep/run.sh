#!/usr/bin/env bash
# npm run test:infra
#
# 1. Find the Bicep CLI: $BICEP, else `bicep` on PATH, else the exact version pinned in
#    tools/bicep/bicep-restore.csproj, restored from NuGet with `dotnet restore` (once; later runs
#    reuse the NuGet packages folder).
# 2. `bicep build` every infra/**/*.bicep into .bicep/out/ and `bicep lint` them (plus the
#    .bicepparam files). Any diagnostic at warning or error level fails the run; bicepconfig.json
#    raises every linter rule that is on to error.
# 3. `bicep snapshot`: evaluate the compiled template offline with test/infra/snapshot.bicepparam,
#    giving every resource the deployment would create with its properties resolved.
# 4. vitest (vitest.infra.config.ts) asserts on the compiled ARM JSON and the snapshot, and builds
#    and inspects the deployment zip (test/infra/*.test.ts).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

OUT=.bicep/out
CSPROJ=tools/bicep/bicep-restore.csproj
PACKAGE_ID=Azure.Bicep.CommandLine.linux-x64

log() { printf '[test:infra] %s\n' "$*"; }
die() { printf '[test:infra] error: %s\n' "$*" >&2; exit 1; }

pinned_version() {
  sed -n "s/.*Include=\"${PACKAGE_ID}\" Version=\"\[\([0-9][0-9.]*\)\]\".*/\1/p" "$CSPROJ" | head -n 1
}

find_bicep() {
  if [ -n "${BICEP:-}" ]; then
    [ -x "$BICEP" ] || die "BICEP=$BICEP is not an executable file"
    return
  fi
  if command -v bicep >/dev/null 2>&1; then
    BICEP="$(command -v bicep)"
    return
  fi
  local version packages
  version="$(pinned_version)"
  [ -n "$version" ] || die "no exact ${PACKAGE_ID} version found in $CSPROJ"
  [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] ||
    die "bicep is not on PATH and the NuGet fallback only covers linux-x64; install the Bicep CLI (https://aka.ms/bicep-install)"
  packages="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
  BICEP="$packages/$(printf '%s' "$PACKAGE_ID" | tr '[:upper:]' '[:lower:]')/$version/tools/bicep"
  if [ ! -f "$BICEP" ]; then
    command -v dotnet >/dev/null 2>&1 ||
      die "neither bicep nor dotnet is on PATH; install the Bicep CLI or the .NET SDK"
    log "restoring ${PACKAGE_ID} ${version} from NuGet"
    dotnet restore "$CSPROJ" --nologo --verbosity quiet
    [ -f "$BICEP" ] || die "dotnet restore finished but $BICEP does not exist"
  fi
  # Package extraction may drop the executable bit.
  [ -x "$BICEP" ] || chmod +x "$BICEP"
}

# The CLI is a self-contained .NET app: without libicu it aborts at start-up unless globalization
# runs in invariant mode, which is all Bicep needs.
check_bicep_runs() {
  if ! "$BICEP" --version >/dev/null 2>&1; then
    export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
    "$BICEP" --version >/dev/null 2>&1 || die "$BICEP does not run: $("$BICEP" --version 2>&1 | head -n 3)"
    log "libicu not found: running Bicep with DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1"
  fi
}

DIAGNOSTICS="$(mktemp)"
trap 'rm -f "$DIAGNOSTICS"' EXIT

# Runs a Bicep command, shows its output, and keeps every diagnostic line it printed.
bicep_step() {
  local output status=0
  output="$("$BICEP" "$@" 2>&1)" || status=$?
  if [ -n "$output" ]; then printf '%s\n' "$output"; fi
  printf '%s\n' "$output" | grep -E ' : (Warning|Error) ' >>"$DIAGNOSTICS" || true
  if [ "$status" -ne 0 ]; then die "bicep $1 failed (exit $status)"; fi
}

find_bicep
check_bicep_runs
log "using $("$BICEP" --version) ($BICEP)"

# Fixture values: a random throwaway pepper each run, so a test can prove it never leaks into
# outputs or plain values.
GATEHOUSE_TEST_TOKEN_PEPPERS="ci1:$(node -e "process.stdout.write(require('node:crypto').randomBytes(32).toString('base64'))")"
export GATEHOUSE_TEST_TOKEN_PEPPERS

rm -rf "$OUT"
mkdir -p "$OUT"

log "bicep build infra/**/*.bicep -> $OUT/"
bicep_step build --pattern 'infra/**/*.bicep' --outdir "$OUT"

log "bicep lint infra/**/*.bicep"
bicep_step lint --pattern 'infra/**/*.bicep'

log "bicep lint + build-params infra/deploy.bicepparam (fixture environment)"
(
  export AZURE_ENV_NAME=gatehouse-ci AZURE_LOCATION=swedencentral AZURE_PRINCIPAL_ID='' \
    AUTH_ISSUER='https://login.microsoftonline.com/00000000-0000-0000-0000-00000000aaaa/v2.0' \
    AUTH_AUDIENCE='api://gatehouse-ci' \
    AUTH_JWKS_URI='https://login.microsoftonline.com/00000000-0000-0000-0000-00000000aaaa/discovery/v2.0/keys' \
    TOKEN_PEPPERS="$GATEHOUSE_TEST_TOKEN_PEPPERS"
  bicep_step lint infra/deploy.bicepparam
  bicep_step build-params infra/deploy.bicepparam --outfile "$OUT/deploy.parameters.json"
)

log "bicep lint test/infra/snapshot.bicepparam"
bicep_step lint test/infra/snapshot.bicepparam

# `using '../../infra/main.bicep'` resolves the same from test/infra/ and from .bicep/out/, and the
# snapshot is written next to the parameters file, so run it on a copy inside the output folder.
log "bicep snapshot -> $OUT/snapshot.snapshot.json"
cp test/infra/snapshot.bicepparam "$OUT/snapshot.bicepparam"
bicep_step snapshot "$OUT/snapshot.bicepparam" --mode overwrite \
  --subscription-id 00000000-0000-0000-0000-0000000000aa \
  --tenant-id 00000000-0000-0000-0000-0000000000bb \
  --location swedencentral \
  --deployment-name gatehouse-ci

warnings="$(grep -c ' : Warning ' "$DIAGNOSTICS" || true)"
errors="$(grep -c ' : Error ' "$DIAGNOSTICS" || true)"
log "Bicep diagnostics: ${errors} error(s), ${warnings} warning(s)"
if [ "$warnings" -ne 0 ] || [ "$errors" -ne 0 ]; then
  sort -u "$DIAGNOSTICS" >&2
  die "the templates must compile and lint with no warnings"
fi

export BICEP
log "vitest --config vitest.infra.config.ts"
npx --no-install vitest run --config vitest.infra.config.ts "$@"
