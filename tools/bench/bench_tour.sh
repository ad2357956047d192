#!/usr/bin/env bash
# Headless tour video export (docs/benchmarks.md, "Presentation"): renders the river-flood
# tour of the sample town to MP4 with `citytwin render-tour` and prints frames/s and peak
# memory. Needs the river-flood results (citytwin run scenarios/musterstadt-river-flood.yaml).
#
#   bash tools/bench/bench_tour.sh [build/citytwin] [size (default 1920x1080)] [fps (default 30)]
set -euo pipefail
BIN=$(realpath "${1:-build/citytwin}")
SIZE=${2:-1920x1080}
FPS=${3:-30}
cd "$(dirname "$0")/../.."
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
/usr/bin/time -f "peak_rss_mib %M" -o "$OUT/time.txt" \
  "$BIN" render-tour scenarios/musterstadt-river-flood.yaml scenarios/musterstadt-river-flood.tour.yaml \
  --out "$OUT/tour.mp4" --size "$SIZE" --fps "$FPS" --quiet | tee "$OUT/log.txt"
awk '{ printf "peak memory: %.0f MiB\n", $2 / 1024 }' "$OUT/time.txt"
echo "video: $(du -k "$OUT/tour.mp4" | cut -f1) KiB, $(ffprobe -v error -count_frames -select_streams v:0 \
  -show_entries stream=nb_read_frames,codec_name -of csv=p=0 "$OUT/tour.mp4")"
