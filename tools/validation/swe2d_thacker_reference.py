#!/usr/bin/python3
"""Independent 2-D reference for the Thacker bounds in tests/test_flood_analytic.cpp.

A textbook first-order HLLC finite-volume scheme with Audusse's hydrostatic reconstruction,
float64, CFL 0.45, on Thacker's planar-surface paraboloid (SWASHES set-up: L = 4 m, a = 1 m,
h0 = 0.1 m, η = 0.5 m, frictionless). It prints, for dx = 0.04 and 0.02 m, the same figures the
test computes: the period from the centroid's zero crossings, the largest centroid error over
one period, and the wet/dry front errors along the row next to y = L/2 at T/2 and T.
Only numpy is needed:  /usr/bin/python3 tools/validation/swe2d_thacker_reference.py
"""
import math
import sys

import numpy as np

G = 9.81
DRY = 1e-6


def hllc(hl, ul, vl, hr, ur, vr):
    cl, cr = np.sqrt(G * hl), np.sqrt(G * hr)
    us = 0.5 * (ul + ur) + cl - cr
    cs = 0.5 * (cl + cr) + 0.25 * (ul - ur)
    sl, sr = np.minimum(ul - cl, us - cs), np.maximum(ur + cr, us + cs)
    dl, dr = hl <= 0, hr <= 0
    sl = np.where(dl, ur - 2 * cr, sl)
    sr = np.where(dl, ur + cr, sr)
    sl = np.where(dr, ul - cl, sl)
    sr = np.where(dr, ul + 2 * cl, sr)
    fml, fmr = hl * ul, hr * ur
    fpl, fpr = hl * ul * ul + 0.5 * G * hl * hl, hr * ur * ur + 0.5 * G * hr * hr
    den = np.where(sr - sl == 0, 1, sr - sl)
    fm = np.where(sl >= 0, fml, np.where(sr <= 0, fmr, (sr * fml - sl * fmr + sl * sr * (hr - hl)) / den))
    fp = np.where(sl >= 0, fpl, np.where(sr <= 0, fpr, (sr * fpl - sl * fpr + sl * sr * (hr * ur - hl * ul)) / den))
    ft = np.where(fm >= 0, fm * vl, fm * vr)  # tangential momentum upwind of the contact
    both = dl & dr
    return np.where(both, 0, fm), np.where(both, 0, fp), np.where(both, 0, ft)


def faces(h, qn, qt, z, axis):
    lo = tuple(slice(0, -1) if a == axis else slice(None) for a in range(2))
    hi = tuple(slice(1, None) if a == axis else slice(None) for a in range(2))
    un = np.where(h > DRY, qn / np.maximum(h, 1e-30), 0)
    ut = np.where(h > DRY, qt / np.maximum(h, 1e-30), 0)
    zf = np.maximum(z[lo], z[hi])  # hydrostatic reconstruction
    hl, hr = np.maximum(0, h[lo] + z[lo] - zf), np.maximum(0, h[hi] + z[hi] - zf)
    fm, fp, ft = hllc(hl, un[lo], ut[lo], hr, un[hi], ut[hi])
    return fm, fp + 0.5 * G * (h[lo] ** 2 - hl ** 2), fp + 0.5 * G * (h[hi] ** 2 - hr ** 2), ft


def pad(a, axis):  # no flux through the outer edges (the water never reaches them)
    shape = list(a.shape)
    shape[axis] = 1
    return np.concatenate([np.zeros(shape), a, np.zeros(shape)], axis=axis)


def step(h, hu, hv, z, dx, t_left, cfl=0.45):
    u = np.where(h > DRY, hu / np.maximum(h, 1e-30), 0)
    v = np.where(h > DRY, hv / np.maximum(h, 1e-30), 0)
    dt = min(cfl * dx / np.where(h > DRY, np.maximum(abs(u), abs(v)) + np.sqrt(G * h), 0).max(), t_left)
    fm, ml, mr, ft = (pad(a, 1) for a in faces(h, hu, hv, z, 1))  # x faces; arrays are [y, x]
    gm, nl, nr, gt = (pad(a, 0) for a in faces(h, hv, hu, z, 0))  # y faces
    k = dt / dx
    hn = np.maximum(h - k * (fm[:, 1:] - fm[:, :-1] + gm[1:, :] - gm[:-1, :]), 0)
    hun = hu - k * (ml[:, 1:] - mr[:, :-1] + gt[1:, :] - gt[:-1, :])
    hvn = hv - k * (ft[:, 1:] - ft[:, :-1] + nl[1:, :] - nr[:-1, :])
    return hn, np.where(hn > DRY, hun, 0), np.where(hn > DRY, hvn, 0), dt


def run(dx, length=4.0, a=1.0, h0=0.1, eta=0.5):
    n = int(round(length / dx))
    xc = (np.arange(n) + 0.5) * dx
    X, Y = np.meshgrid(xc - length / 2, xc - length / 2)
    om = math.sqrt(2 * G * h0) / a
    period = 2 * math.pi / om
    z = -h0 * (1 - (X ** 2 + Y ** 2) / a ** 2)
    h = np.maximum(0, h0 / a ** 2 * (a ** 2 - (X - eta) ** 2 - Y ** 2))
    hu, hv = np.zeros_like(h), h * eta * om
    t, track, fronts = 0.0, [(0.0, eta, 0.0)], []
    j = n // 2
    for target in (0.5 * period, period, 1.1 * period):
        while t < target - 1e-9:
            h, hu, hv, dt = step(h, hu, hv, z, dx, target - t)
            t += dt
            m = h.sum()
            track.append((t, (h * X).sum() / m, (h * Y).sum() / m))
        if target <= period:
            wet = np.where(h[j] > 1e-3)[0]
            yy = xc[j] - length / 2 - eta * math.sin(om * t)
            half, xm = math.sqrt(a * a - yy * yy), length / 2 + eta * math.cos(om * t)
            fronts += [xc[wet[0]] - dx / 2 - (xm - half), xc[wet[-1]] + dx / 2 - (xm + half)]
    track = np.array(track)

    def crossing(col, t_from):
        v = track[:, col]
        for k in range(1, len(track)):
            if track[k - 1, 0] >= t_from and (v[k - 1] > 0) != (v[k] > 0):
                return track[k - 1, 0] + (track[k, 0] - track[k - 1, 0]) * v[k - 1] / (v[k - 1] - v[k])
        return float("nan")

    tx1 = crossing(1, 0.0)
    tx2 = crossing(1, tx1 + 0.1 * period)
    ty1 = crossing(2, 0.1 * period)
    ty2 = crossing(2, ty1 + 0.1 * period)
    upto = track[:, 0] <= period
    err = np.hypot(track[upto, 1] - eta * np.cos(om * track[upto, 0]), track[upto, 2] - eta * np.sin(om * track[upto, 0]))
    return period, 2 * (tx2 - tx1), 2 * (ty2 - ty1), err.max(), fronts


def main():
    for dx in [float(a) for a in sys.argv[1:]] or (0.04, 0.02):
        period, px, py, cerr, fronts = run(dx)
        rel = max(abs(px - period), abs(py - period)) / period
        print(f"dx {dx}: period {period:.4f} s, from x {px:.4f}, from y {py:.4f} (error {100 * rel:.2f} %), "
              f"max centroid error {cerr:.4f} m, fronts T/2, T: {', '.join(f'{f:+.4f}' for f in fronts)} m")


if __name__ == "__main__":
    main()
