#!/usr/bin/env bash
# Sweep overhead and MPI speed-up (docs/benchmarks.md, "Sweeps"): a sweep of 8 small flood
# scenarios run by one process and by `mpirun -np 2`. Prints the per-run overhead (the sweep's
# wall time minus the runs' own wall_s from their manifests) and the speed-up of 2 ranks vs 1.
#
#   bash tools/bench/bench_sweep.sh [build/citytwin] [cells (DEM side, default 120)] [minutes (default 20)]
set -euo pipefail
BIN=$(realpath "${1:-build/citytwin}")
CELLS=${2:-120}
MINUTES=${3:-20}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

# A tilted valley as an ESRI ASCII grid (5 m cells), no CRS in the file: assume_crs gives it.
awk -v n="$CELLS" 'BEGIN {
  printf "ncols %d\nnrows %d\nxllcorner 482000\nyllcorner 5730000\ncellsize 5\nNODATA_value -9999\n", n, n
  for (j = 0; j < n; ++j) { line = ""
    for (i = 0; i < n; ++i) { y = (n - j - 0.5) * 5; x = (i + 0.5) * 5; d = y - n * 2.5; if (d < 0) d = -d
      line = line sprintf("%.3f ", 100 + 0.04 * d - 0.005 * x) }
    print line } }' > dem.asc
cat > base.yaml <<YAML
name: bench
city: {terrain: dem.asc, assume_crs: EPSG:25832}
time: {duration: ${MINUTES}min}
modules:
  flood:
    cell_size: 5
    boundary: open
    rain: {intensity_mm_h: 40, duration: $((MINUTES * 3 / 4))min}
    losses: {drainage_mm_h: 10, infiltration_mm_h: 5}
YAML
cat > sweep.yaml <<YAML
base: base.yaml
parameters:
  - {path: modules.flood.rain.intensity_mm_h, name: rain, values: [30, 60]}
  - {path: modules.flood.losses.drainage_mm_h, name: drainage, values: [0, 10, 20, 30]}
YAML

now() { date +%s.%N; }
computeS() { python3 -c 'import json,glob,sys; print(sum(json.load(open(f))["wall_s"] for f in glob.glob(sys.argv[1] + "/runs/*/manifest.json")))' "$1"; }
MPIRUN=(mpirun --oversubscribe -np 2)
[ "$(id -u)" = 0 ] && MPIRUN=(mpirun --allow-run-as-root --oversubscribe -np 2)

"$BIN" --no-cache run base.yaml --out warm --threads 1 --quiet --no-report >/dev/null # page cache, GDAL drivers

t0=$(now); "$BIN" --no-cache sweep sweep.yaml --out one --threads 1 >one.log; t1=$(now)
t2=$(now); "${MPIRUN[@]}" "$BIN" --no-cache sweep sweep.yaml --out two --threads 1 >two.log; t3=$(now)
t4=$(now); "$BIN" --no-cache sweep sweep.yaml --out threads --threads 2 >threads.log; t5=$(now)
cmp -s one/sweep.csv two/sweep.csv && same=yes || same=NO
# What the machine gives any two processes at once (other load, shared cores): the ceiling for
# the MPI speed-up. One plain run alone, then two at the same time.
t6=$(now); "$BIN" --no-cache run base.yaml --out c1 --threads 1 --quiet --no-report >/dev/null; t7=$(now)
"$BIN" --no-cache run base.yaml --out c2 --threads 1 --quiet --no-report >/dev/null &
"$BIN" --no-cache run base.yaml --out c3 --threads 1 --quiet --no-report >/dev/null; wait; t8=$(now)

python3 - "$t0" "$t1" "$t2" "$t3" "$t4" "$t5" "$(computeS one)" "$(computeS two)" "$(computeS threads)" "$same" "$CELLS" "$MINUTES" "$t6" "$t7" "$t8" <<'PY'
import sys
t0, t1, t2, t3, t4, t5, c1, c2, c3 = map(float, sys.argv[1:10])
same, cells, minutes = sys.argv[10], sys.argv[11], sys.argv[12]
t6, t7, t8 = map(float, sys.argv[13:16])
n = 8
one, two, thr = t1 - t0, t3 - t2, t5 - t4
print(f"sweep of {n} runs: {cells}x{cells} cells of 5 m, {minutes} min simulated, --threads 1 unless said")
print(f"1 process:        wall {one:7.2f} s, runs' own wall_s {c1:7.2f} s, overhead {(one - c1) / n * 1000:6.1f} ms/run = {(one - c1) / c1 * 100:5.2f} %")
print(f"mpirun -np 2:     wall {two:7.2f} s, runs' own wall_s {c2:7.2f} s (sum over ranks), "
      f"overhead {(2 * two - c2) / n * 1000:6.1f} ms/run of rank time = {(2 * two - c2) / c2 * 100:5.2f} % (mpirun start included)")
print(f"1 process, --threads 2: wall {thr:7.2f} s, runs' own wall_s {c3:7.2f} s")
print(f"speed-up 2 ranks vs 1 process: {one / two:.2f}x;  vs 1 process with 2 threads: {thr / two:.2f}x")
print(f"sweep.csv identical (1 process vs 2 ranks): {same}")
print(f"machine check: 1 plain run {t7 - t6:.2f} s alone, 2 at once {t8 - t7:.2f} s: two processes get {2 * (t7 - t6) / (t8 - t7):.2f}x")
PY
