#!/usr/bin/env python3
"""Writes assets/musterstadt/sensors.csv: two weeks of plausible, made-up 15-minute series
for Musterstadt's sensors (scenarios/musterstadt-live.yaml replays them). Deterministic.

Sensors (positions in EPSG:25832, the town's CRS; docs/musterstadt.md):
  GW-Altstadt, GW-Suedstadt, GW-Industrie  groundwater level, m a.s.l. (LoRaWAN wells)
  PW-Ost-running, PW-Ost-flow             pumping station east: running (0/1), flow m³/h
  Pegel-Hauptbruecke                      river level at the main bridge, m a.s.l.
  Zaehlung-Hauptstrasse, Zaehlung-Ring     traffic counts, vehicles per 15 min

Weather story: a dry week, then two days of rain from day 8 that lift the river by 1.6 m
and the groundwater by up to 0.6 m; the pumping station runs more while the water is high.
Usage: python3 tools/musterstadt/gen_sensors.py [out.csv]
"""
import math
import random
import sys
from datetime import datetime, timedelta

OUT = sys.argv[1] if len(sys.argv) > 1 else "assets/musterstadt/sensors.csv"
rng = random.Random(20261121)
start = datetime(2026, 2, 1, 0, 0)
steps = 14 * 96  # two weeks of 15 minutes


def rain_response(t_days, delay_days, rise, fall_days):
    """A smooth rise after the rain (day 8 to 10) and a slow fall afterwards."""
    x = t_days - 8 - delay_days
    if x <= 0:
        return 0.0
    up = 1 - math.exp(-x / 0.6)
    down = math.exp(-max(0.0, x - 2) / fall_days)
    return rise * up * down


rows = []
pump_on = False
for k in range(steps):
    t = start + timedelta(minutes=15 * k)
    d = k / 96  # days since the start
    hour = t.hour + t.minute / 60
    weekday = t.weekday() < 5
    river = 98.9 + rain_response(d, 0.2, 1.6, 1.5) + 0.02 * math.sin(2 * math.pi * d) + rng.gauss(0, 0.005)
    gw = [
        100.2 - 0.01 * d + rain_response(d, 0.8, 0.45, 4) + rng.gauss(0, 0.003),  # Altstadt, on the terrace
        99.4 - 0.008 * d + rain_response(d, 0.5, 0.6, 3) + rng.gauss(0, 0.003),   # Südstadt, floodplain
        99.0 - 0.012 * d + rain_response(d, 0.6, 0.5, 3.5) + rng.gauss(0, 0.003), # Industriegebiet
    ]
    # The pump switches on above 99.6 m at the Südstadt well and off below 99.45 m (hysteresis).
    if gw[1] > 99.6:
        pump_on = True
    elif gw[1] < 99.45:
        pump_on = False
    flow = (180 + 40 * (gw[1] - 99.6) + rng.gauss(0, 4)) if pump_on else 0.0
    # Traffic: morning and evening peaks on weekdays, a flatter midday on weekends.
    peaks = math.exp(-((hour - 7.75) / 1.2) ** 2) + 1.1 * math.exp(-((hour - 16.75) / 1.6) ** 2)
    base = 0.15 + 0.35 * math.exp(-((hour - 13) / 4.5) ** 2)
    day_shape = (base + peaks) if weekday else (0.1 + 0.55 * math.exp(-((hour - 14) / 4) ** 2))
    night = 0.05 if hour < 5 else 0.0
    count_main = max(0, round(230 * (day_shape + night) + rng.gauss(0, 6)))
    count_ring = max(0, round(140 * (day_shape + night) + rng.gauss(0, 5)))
    # A few gaps and a broken reading, as real LoRaWAN data has (the replay skips "-").
    cells = [f"{river:.3f}", f"{gw[0]:.3f}", f"{gw[1]:.3f}", f"{gw[2]:.3f}", "1" if pump_on else "0", f"{flow:.1f}",
             str(count_main), str(count_ring)]
    if k % 173 == 41:
        cells[1] = "-"
    if 600 <= k < 604:
        cells[6] = "-"  # the Hauptstraße counter was offline for an hour
    rows.append([t.strftime("%Y-%m-%dT%H:%M:%S")] + cells)

with open(OUT, "w", newline="\n") as f:
    f.write("time,Pegel-Hauptbruecke,GW-Altstadt,GW-Suedstadt,GW-Industrie,PW-Ost-running,PW-Ost-flow,"
            "Zaehlung-Hauptstrasse,Zaehlung-Ring\n")
    for r in rows:
        f.write(",".join(r) + "\n")
print(f"wrote {OUT}: {len(rows)} rows from {rows[0][0]} to {rows[-1][0]}")
