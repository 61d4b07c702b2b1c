#!/usr/bin/env bash
# Fuzzes every parser through the engine's entry point (Minimizer.Minimize) with AFL++ and SharpFuzz, for a bounded time.
#   bash tests/fuzz/run-fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      (default: 60 s, every target)
# Installs afl++ (apt-get) and restores the SharpFuzz instrumenter (dotnet tool, dotnet-tools.json) when missing, builds
# the harness into a temporary directory, instruments TelemetryGateway.Core.dll there, and runs afl-fuzz on each target
# with its seeds (tests/testdata/fuzz/TARGET/seeds). A finding is a crash (an exception escaping the engine, an input the
# engine quarantined as its own fault, or a `never` canary of the seeds in an output) or a hang (over 5 s for one input).
# Prints one line per target and "fuzz: N passed, N failed"; exits 1 on any finding, 2 when the tools are unusable.
# Findings are kept under $FUZZ_OUTPUT (default: a temporary directory, printed) and replayed to print their stacks.
set -uo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-60}
shift || true
all_targets=(json-status json-network json-settings json-commissioning text-log solix-param-info solix-state-info protobuf-status protobuf-network)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")

if ! command -v afl-fuzz >/dev/null 2>&1; then
  echo "installing: afl++"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq afl++ >/dev/null \
    || { echo "fuzz: 0 passed, 1 failed (could not install afl++)"; exit 2; }
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if ! dotnet tool restore >/dev/null 2>&1; then
  echo "fuzz: 0 passed, 1 failed (could not restore the SharpFuzz tool)"; exit 2
fi

work=$(mktemp -d)
output=${FUZZ_OUTPUT:-$work/findings}
mkdir -p "$output"
trap 'rm -rf "$work/bin" "$work/plain"' EXIT
if ! dotnet build tests/TelemetryGateway.Fuzz/TelemetryGateway.Fuzz.csproj -c Release -nologo -o "$work/bin" >"$work/build.log" 2>&1; then
  grep -E ": error " "$work/build.log" | sort -u | head -20
  echo "fuzz: 0 passed, 1 failed (harness build failed)"; exit 2
fi
# Instrument the engine (the assembly under test) in place, in the temporary build only; findings are replayed with a
# copy left as it was (instrumented code may run only under SharpFuzz's fork server).
cp -r "$work/bin" "$work/plain"
if ! dotnet sharpfuzz "$work/bin/TelemetryGateway.Core.dll" >"$work/instrument.log" 2>&1; then
  cat "$work/instrument.log"
  echo "fuzz: 0 passed, 1 failed (instrumentation failed)"; exit 2
fi

# The harness is a .NET program, not an AFL-compiled binary; crashes are reported by SharpFuzz's fork server, not core dumps.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 \
  AFL_FORKSRV_INIT_TMOUT=30000 AFL_QUIET=1

passed=0
failed=0
for target in "${targets[@]}"; do
  seeds="$work/bin/fuzz/$target/seeds"
  if [ ! -d "$seeds" ]; then
    echo "$target: no seeds at tests/testdata/fuzz/$target/seeds"; failed=$((failed + 1)); continue
  fi
  if ! dotnet "$work/plain/TelemetryGateway.Fuzz.dll" "$target" --self-check >"$work/$target.check" 2>&1; then
    cat "$work/$target.check"; echo "$target: the canary oracle cannot detect a leak"; failed=$((failed + 1)); continue
  fi
  # The seeds themselves first (afl-fuzz would refuse to start on a crashing seed without saying why).
  if ! dotnet "$work/plain/TelemetryGateway.Fuzz.dll" "$target" --replay "$seeds" >"$work/$target.seeds" 2>&1; then
    head -60 "$work/$target.seeds"; echo "$target: a seed input is itself a finding"; failed=$((failed + 1)); continue
  fi
  out="$output/$target"
  rm -rf "$out"
  timeout $((seconds + 120)) afl-fuzz -i "$seeds" -o "$out" -t 5000 -m none -V "$seconds" -- \
    dotnet "$work/bin/TelemetryGateway.Fuzz.dll" "$target" >"$work/$target.log" 2>&1
  rc=$?
  stats="$out/default/fuzzer_stats"
  if [ ! -f "$stats" ]; then
    tail -20 "$work/$target.log"
    echo "$target: afl-fuzz did not run (exit $rc)"; failed=$((failed + 1)); continue
  fi
  stat() { sed -nE "s/^$1 +: *([0-9]+).*/\1/p" "$stats"; }
  crashes=$(find "$out/default/crashes" -name 'id:*' 2>/dev/null | wc -l)
  hangs=$(find "$out/default/hangs" -name 'id:*' 2>/dev/null | wc -l)
  echo "$target: ${seconds}s, $(stat execs_done) executions, $(stat corpus_count) corpus entries, $crashes crashes, $hangs hangs"
  if [ "$crashes" -gt 0 ] || [ "$hangs" -gt 0 ]; then
    failed=$((failed + 1))
    echo "  findings in $out/default/{crashes,hangs}; replay:"
    dotnet "$work/plain/TelemetryGateway.Fuzz.dll" "$target" --replay "$out/default/crashes" "$out/default/hangs" 2>&1 | head -60 | sed 's/^/    /'
  else
    passed=$((passed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
