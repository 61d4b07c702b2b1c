#!/usr/bin/env bash
# Runs the whole test suite: installs what the tests need when it is missing, builds, runs every test project,
# and prints one summary line: "tests: N passed, N failed[, N skipped]". Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

need_packages=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_packages+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || need_packages+=(mosquitto-clients)
command -v exiftool >/dev/null 2>&1 || need_packages+=(libimage-exiftool-perl)
command -v cjpeg >/dev/null 2>&1 || need_packages+=(libjpeg-turbo-progs)
# Prometheus and promtool: the metrics tests scrape the gateway with a real Prometheus (started by the test, on loopback).
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || need_packages+=(prometheus)
# The amqp worker tests start their own RabbitMQ nodes (with the MQTT plugin) from Debian's package.
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need_packages+=(rabbitmq-server)
if [ ${#need_packages[@]} -gt 0 ]; then
  echo "installing: ${need_packages[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_packages[@]}" >/dev/null \
    || { echo "tests: 0 passed, 1 failed (could not install ${need_packages[*]})"; exit 1; }
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT

if ! dotnet build TelemetryGateway.sln -c Release -nologo >"$log" 2>&1; then
  grep -E ": error " "$log" | sort -u | head -50
  echo "tests: 0 passed, 1 failed (build failed)"
  exit 1
fi

dotnet test TelemetryGateway.sln -c Release --no-build -nologo 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# One "Passed!/Failed!  - Failed: F, Passed: P, Skipped: S, Total: T" line per test assembly.
read -r passed failed skipped < <(grep -E "(Passed|Failed)! +- Failed: " "$log" | sed -E 's/.*Failed: *([0-9]+), Passed: *([0-9]+), Skipped: *([0-9]+).*/\2 \1 \3/' \
  | awk '{p+=$1; f+=$2; s+=$3} END {print p+0, f+0, s+0}')
assemblies=$(grep -cE "(Passed|Failed)! +- Failed: " "$log")
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
if [ "$assemblies" -eq 0 ]; then failed=$((failed + 1)); fi

# Fuzzing (AFL++ and SharpFuzz, tests/fuzz/run-fuzz.sh), bounded: each target is one test, failed on a crash, a hang or a
# leaked canary. FUZZ_SECONDS=0 skips it.
fuzz_seconds=${FUZZ_SECONDS:-9}
if [ "$fuzz_seconds" -gt 0 ]; then
  bash tests/fuzz/run-fuzz.sh "$fuzz_seconds" 2>&1 | tee "$log"
  read -r fuzz_passed fuzz_failed < <(sed -nE 's/^fuzz: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/p' "$log" | tail -1)
  passed=$((passed + ${fuzz_passed:-0}))
  failed=$((failed + ${fuzz_failed:-1}))
  if [ -z "${fuzz_passed:-}" ]; then status=1; fi
  if [ "${fuzz_failed:-1}" -gt 0 ]; then status=1; fi
fi

summary="tests: $passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
