#!/usr/bin/python3
"""Figures for docs/validation/flood.md from the CSVs the flood tests write.

    mkdir -p /tmp/flood-val
    CITYTWIN_VALIDATION_OUT=/tmp/flood-val build/tests/test_flood_analytic
    CITYTWIN_VALIDATION_OUT=/tmp/flood-val build/tests/test_flood_ea
    /usr/bin/python3 tools/validation/flood_plots.py /tmp/flood-val docs/validation/img

Needs Debian's python3-matplotlib (and python3-numpy). A figure whose CSVs are missing is
skipped with a note, so a partial run still plots what it has.
"""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

SCHEME_STYLE = {
    "Hllc1": dict(color="tab:blue", label="HLLC 1st order"),
    "Hllc2": dict(color="tab:green", label="HLLC 2nd order"),
    "Hllc": dict(color="tab:blue", label="HLLC"),
    "Inertial": dict(color="tab:orange", label="local inertial"),
}


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    head, body = rows[0], np.array(rows[1:], dtype=float)
    return {name: body[:, k] for k, name in enumerate(head)}


class Figures:
    def __init__(self, src, dst):
        self.src, self.dst = src, dst
        os.makedirs(dst, exist_ok=True)

    def have(self, *names):
        missing = [n for n in names if not os.path.exists(os.path.join(self.src, n))]
        if missing:
            print("skipped (no " + ", ".join(missing) + ")")
        return not missing

    def csv(self, name):
        return read(os.path.join(self.src, name))

    def save(self, fig, name):
        fig.tight_layout()
        path = os.path.join(self.dst, name)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        print("wrote", path)

    def dam_breaks(self):
        cases = [("ritter", "Ritter (dry bed)"), ("stoker", "Stoker (wet bed, h_R/h_L = 0.1)")]
        variants = [v for v in ("Hllc1", "Hllc2") if os.path.exists(os.path.join(self.src, f"ritter_{v}_dx50.csv"))]
        if not variants:
            print("skipped dam breaks (no ritter_*_dx50.csv)")
            return
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
        for ax, (case, title) in zip(axes, cases):
            exact = None
            for v in variants:
                for dx, ls in (("dx100", ":"), ("dx50", "-")):
                    name = f"{case}_{v}_{dx}.csv"
                    if not os.path.exists(os.path.join(self.src, name)):
                        continue
                    d = self.csv(name)
                    exact = d
                    lab = f"{SCHEME_STYLE[v]['label']}, dx = {0.1 if dx == 'dx100' else 0.05} m"
                    ax.plot(d["x"], d["h"], ls, color=SCHEME_STYLE[v]["color"], lw=1.2, label=lab)
            if exact is not None:
                ax.plot(exact["x"], exact["h_exact"], "k--", lw=1, label="analytic")
            ax.set(title=f"{title}, t = 1 s", xlabel="x (m)", ylabel="depth (m)", xlim=(4, 18))
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        self.save(fig, "flood_dambreak.png")

    def thacker(self):
        variants = [v for v in ("Hllc1", "Hllc2") if os.path.exists(os.path.join(self.src, f"thacker_{v}_dx20_centroid.csv"))]
        if not variants:
            print("skipped Thacker (no thacker_*_dx20_centroid.csv)")
            return
        fig, axes = plt.subplots(1, 3, figsize=(14, 4))
        for v in variants:
            st = SCHEME_STYLE[v]
            for k, when in enumerate(("halfT", "T")):
                d = self.csv(f"thacker_{v}_dx20_section_{when}.csv")
                ax = axes[k]
                wet = d["h"] > 1e-4
                ax.plot(d["x"], d["z"], color="0.5", lw=1)
                ax.plot(d["x"][wet], (d["z"] + d["h"])[wet], ".", ms=3, color=st["color"], label=st["label"] + ", dx = 0.02 m")
                wetx = d["h_exact"] > 0
                ax.plot(d["x"][wetx], (d["z"] + d["h_exact"])[wetx], "k--", lw=1, label="analytic")
                ax.set(title=f"section y = 2 m at t = {'T/2' if when == 'halfT' else 'T'}", xlabel="x (m)",
                       ylabel="surface / bed (m)", xlim=(0, 4), ylim=(-0.12, 0.16))
                ax.grid(alpha=0.3)
                ax.legend(fontsize=8)
            for dx, ls in (("dx40", ":"), ("dx20", "-")):
                d = self.csv(f"thacker_{v}_{dx}_centroid.csv")
                axes[2].plot(d["xc"], d["yc"], ls, color=st["color"], lw=1.2,
                             label=f"{st['label']}, dx = {0.04 if dx == 'dx40' else 0.02} m")
        d = self.csv(f"thacker_{variants[0]}_dx20_centroid.csv")
        axes[2].plot(d["xc_exact"], d["yc_exact"], "k--", lw=1, label="analytic")
        axes[2].set(title="water centroid over 1.1 periods", xlabel="x (m)", ylabel="y (m)", aspect="equal")
        axes[2].grid(alpha=0.3)
        axes[2].legend(fontsize=8)
        self.save(fig, "flood_thacker.png")

    def macdonald(self):
        fig, axes = plt.subplots(2, 2, figsize=(12, 6.5), sharex=True)
        found = False
        for col, (prefix, title) in enumerate((("macdonald", "no rain, q = 1 m²/s"),
                                               ("macdonald_rain", "rain: q = 0.5 + 5e-4 x m²/s"))):
            for v in ("Hllc1", "Hllc2", "Inertial"):
                name = f"{prefix}_{v}.csv"
                if not os.path.exists(os.path.join(self.src, name)):
                    continue
                found = True
                d = self.csv(name)
                st = SCHEME_STYLE[v]
                axes[0, col].plot(d["x"], d["eta"], color=st["color"], lw=1.2, label=st["label"] + " surface")
                axes[0, col].plot(d["x"], d["eta_exact"], "k--", lw=0.8)
                axes[0, col].plot(d["x"], d["z"], color=st["color"], lw=0.8, alpha=0.5)
                axes[1, col].plot(d["x"], d["eta"] - d["eta_exact"], color=st["color"], lw=1.2, label=st["label"])
            axes[0, col].set(title=f"MacDonald-type steady state, {title}", ylabel="surface, bed (m)")
            axes[1, col].set(xlabel="x (m)", ylabel="surface − analytic (m)", ylim=(-0.02, 0.02))
            for ax in axes[:, col]:
                ax.grid(alpha=0.3)
                ax.legend(fontsize=8)
        if not found:
            plt.close(fig)
            print("skipped MacDonald (no macdonald_*.csv)")
            return
        axes[0, 0].text(0.02, 0.04, "dashed: analytic surface; thin: bed (each scheme has its own)",
                        transform=axes[0, 0].transAxes, fontsize=8)
        self.save(fig, "flood_macdonald.png")

    def ea3(self):
        if not self.have("ea3_Hllc.csv", "ea3_Hllc_profile.csv"):
            return
        fig, axes = plt.subplots(1, 2, figsize=(12, 4))
        for v in ("Hllc", "Inertial"):
            if not os.path.exists(os.path.join(self.src, f"ea3_{v}.csv")):
                continue
            st = SCHEME_STYLE[v]
            d = self.csv(f"ea3_{v}.csv")
            axes[0].plot(d["t"], d["h_P1"], color=st["color"], lw=1.2, label=st["label"] + " P1")
            axes[0].plot(d["t"], d["h_P2"], "--", color=st["color"], lw=1.2, label=st["label"] + " P2")
            p = self.csv(f"ea3_{v}_profile.csv")
            wet = p["eta"] - p["z"] > 1e-3
            axes[1].plot(p["x"][wet], p["eta"][wet], ".", ms=3, color=st["color"], label=st["label"] + " surface, 900 s")
        axes[1].plot(p["x"], p["z"], color="0.4", lw=1, label="bed")
        axes[0].set(title="EA Test 3: depth at P1 (150, 50) and P2 (250, 50)", xlabel="t (s)", ylabel="depth (m)")
        axes[1].set(title="EA Test 3: long section y = 51 m at 900 s", xlabel="x (m)", ylabel="elevation (m)")
        for ax in axes:
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        self.save(fig, "flood_ea3.png")

    def ea6a(self):
        if not self.have("ea6a_Hllc.csv"):
            return
        h = self.csv("ea6a_Hllc.csv")
        inertial = self.csv("ea6a_Inertial.csv") if os.path.exists(os.path.join(self.src, "ea6a_Inertial.csv")) else None
        fig, axes = plt.subplots(3, 2, figsize=(12, 9), sharex=True)
        for k, ax in enumerate(axes.T.flat):
            g = f"G{k + 1}"
            ax.plot(h["t"], h[g + "_obs"], "k", lw=1, label="measured")
            ax.plot(h["t"], h[g], color=SCHEME_STYLE["Hllc"]["color"], lw=1.2, label="HLLC")
            if inertial is not None:
                ax.plot(inertial["t"], inertial[g], color=SCHEME_STYLE["Inertial"]["color"], lw=1, label="local inertial")
            rmse = np.sqrt(np.mean((h[g] - h[g + "_obs"]) ** 2))
            ax.set(title=f"{g}{' (wake)' if k == 4 else ''}{' (reservoir)' if k == 5 else ''}: HLLC RMSE {rmse:.3f} m",
                   ylabel="depth (m)")
            ax.grid(alpha=0.3)
        for ax in axes[-1]:
            ax.set_xlabel("t (s)")
        axes[0, 0].legend(fontsize=8)
        self.save(fig, "flood_ea6a.png")


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CITYTWIN_VALIDATION_OUT", "")
    dst = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "..", "docs", "validation", "img")
    if not src or not os.path.isdir(src):
        sys.exit("usage: flood_plots.py CSV_DIR [PNG_DIR]  (CSV_DIR: where CITYTWIN_VALIDATION_OUT pointed)")
    figs = Figures(src, dst)
    for make in (figs.dam_breaks, figs.thacker, figs.macdonald, figs.ea3, figs.ea6a):
        make()


if __name__ == "__main__":
    main()
