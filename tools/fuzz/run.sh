#!/usr/bin/env bash
# Builds the libFuzzer targets of tools/fuzz/ with clang (a build directory of their own, so the
# main build may use GCC) and runs each for a bounded time with its seed corpus.
#
#   tools/fuzz/run.sh                      # every target, 60 s each
#   tools/fuzz/run.sh --time 20            # what CTest (feeds.fuzz_decoders) runs
#   tools/fuzz/run.sh --target fuzz_replay --time 300
#
# Options: --time S (per target, default 60), --rss-limit MB (2048), --timeout S (per input,
# 10), --build-dir DIR (default build-fuzz at the repository root), --target NAME (repeatable),
# --jobs N (build jobs). Env: CITYTWIN_FUZZ_CXX (the clang++ to use).
# Exit: 0 all clean; 1 a crash, leak, UBSan report, timeout, OOM or a failed build; 77 clang or
# its fuzzer runtime is missing (CTest counts that as skipped).
# New inputs go to DIR/corpus/<target>/ (the seeds in tools/fuzz/corpus/ are only read); a
# failing input is written to DIR/artifacts/<target>/ and the command to replay it is printed.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
time_s=60
rss_mb=2048
timeout_s=10
build="$root/build-fuzz"
jobs="$(nproc 2>/dev/null || echo 2)"
targets=()
all_targets=(fuzz_decoders fuzz_mqtt_config fuzz_replay fuzz_traffic)

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --time) time_s="$2"; shift 2 ;;
    --rss-limit) rss_mb="$2"; shift 2 ;;
    --timeout) timeout_s="$2"; shift 2 ;;
    --build-dir) build="$2"; shift 2 ;;
    --target) targets+=("$2"); shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[ "${#targets[@]}" -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [ -f "$here/$t.cpp" ] || { echo "run.sh: no target $t (have: ${all_targets[*]})" >&2; exit 2; }
done

skip() { echo "fuzz: SKIPPED: $*"; exit 77; }

# --- Tools: clang++ that can link -fsanitize=fuzzer --------------------------------------
cxx="${CITYTWIN_FUZZ_CXX:-}"
if [ -z "$cxx" ]; then
  for c in clang++ clang++-19 clang++-18 clang++-17 clang++-16 clang++-15 clang++-14; do
    if command -v "$c" >/dev/null 2>&1; then cxx="$(command -v "$c")"; break; fi
  done
fi
[ -n "$cxx" ] || skip "no clang++ (Debian: apt-get install clang libclang-rt-14-dev, or run tools/setup)"
command -v cmake >/dev/null 2>&1 || skip "no cmake"

probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
printf '%s\n' '#include <cstdint>' '#include <cstddef>' \
  'extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }' > "$probe/p.cpp"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" > "$probe/log" 2>&1; then
  sed 's/^/  /' "$probe/log" | head -5
  rt="$("$cxx" --print-runtime-dir 2>/dev/null || true)"
  skip "$cxx cannot link -fsanitize=fuzzer,address,undefined${rt:+: is libclang_rt.fuzzer missing in $rt?} (Debian: apt-get install clang libclang-rt-14-dev)"
fi

# --- Build ----------------------------------------------------------------------------------
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
[ -f "$build/CMakeCache.txt" ] && generator=() # keep what it was configured with
echo "fuzz: building ${targets[*]} with $cxx in $build"
if ! cmake -S "$here" -B "$build" "${generator[@]}" -DCMAKE_CXX_COMPILER="$cxx" \
     -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$probe/configure.log" 2>&1; then
  cat "$probe/configure.log"
  echo "fuzz: FAILED: cmake configure (tools/fuzz/CMakeLists.txt)"
  exit 1
fi
if ! cmake --build "$build" --parallel "$jobs" --target "${targets[@]}" > "$probe/build.log" 2>&1; then
  tail -n 60 "$probe/build.log"
  echo "fuzz: FAILED: build"
  exit 1
fi

# --- Run ------------------------------------------------------------------------------------
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}${UBSAN_OPTIONS:+:}print_stacktrace=1:halt_on_error=1"
failed=()
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  log="$build/logs/$t.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  args=(-max_total_time="$time_s" -rss_limit_mb="$rss_mb" -timeout="$timeout_s" -print_final_stats=1
        -max_len=8192 -error_exitcode=1 -timeout_exitcode=1 -artifact_prefix="$artifacts/")
  [ -f "$here/$t.dict" ] && args+=(-dict="$here/$t.dict")
  echo "fuzz: $t for ${time_s} s (corpus $corpus, seeds tools/fuzz/corpus/$t)"
  "$build/$t" "${args[@]}" "$corpus" "$here/corpus/$t" > "$log" 2>&1
  rc=$?
  # libFuzzer's own figures: edges in the instrumented code, the last status line, final stats.
  edges="$(grep -o 'Loaded [0-9]* modules *([0-9]* inline 8-bit counters)' "$log" | grep -o '([0-9]*' | tr -d '(' | head -1)"
  status="$(grep -E '^#[0-9]+' "$log" | tail -1)"
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
  eps="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")"
  rss="$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")"
  cov="$(grep -o 'cov: [0-9]*' <<<"$status" | grep -o '[0-9]*')"
  ft="$(grep -o 'ft: [0-9]*' <<<"$status" | grep -o '[0-9]*')"
  corp="$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' <<<"$status" | sed 's/corp: //')"
  if [ "$rc" -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|==ERROR' "$log"; then
    echo "---- $t: last lines of $log ----"
    tail -n 60 "$log"
    artifact="$(ls -t "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-* 2>/dev/null | head -1)"
    echo "fuzz: FAILED: $t (exit $rc)${artifact:+; input: $artifact}"
    [ -n "$artifact" ] && echo "fuzz: replay it with: $build/$t $artifact"
    failed+=("$t")
  else
    echo "fuzz: ok $t: ${runs:-?} runs in ${time_s} s, ${eps:-?} exec/s, cov: ${cov:-?} of ${edges:-?} edges, ft: ${ft:-?}, corpus ${corp:-?}, peak RSS ${rss:-?} MB"
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets clean"
