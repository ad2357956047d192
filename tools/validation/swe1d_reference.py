#!/usr/bin/python3
"""Independent 1-D reference schemes for the dam-break error levels in tests/test_flood_analytic.cpp.

A textbook first-order HLL(C) finite-volume scheme (Toro 2001; wave speeds after
Einfeldt/Toro with the dry-bed speeds of Toro) and its MUSCL-minmod + Heun extension, float64,
CFL 0.45, reflective ends, frictionless flat bed. It prints the L1 error ∫|h − h_exact| dx at
t = 1 s of Ritter's (dry bed) and Stoker's (hR/hL = 0.1) dam breaks in the 20 m flume the test
uses, for dx = 0.1, 0.05, 0.025 m. The C++ test's bounds are 1.5× these figures at dx = 0.05 m.
Only numpy is needed:  /usr/bin/python3 tools/validation/swe1d_reference.py
"""
import math

import numpy as np

G = 9.81


def hll_flux(hl, ul, hr, ur):
    cl, cr = np.sqrt(G * hl), np.sqrt(G * hr)
    us = 0.5 * (ul + ur) + cl - cr
    cs = 0.5 * (cl + cr) + 0.25 * (ul - ur)
    sl = np.minimum(ul - cl, us - cs)
    sr = np.maximum(ur + cr, us + cs)
    dl, dr = hl <= 0, hr <= 0
    sl = np.where(dl, ur - 2 * cr, sl)
    sr = np.where(dl, ur + cr, sr)
    sl = np.where(dr, ul - cl, sl)
    sr = np.where(dr, ul + 2 * cl, sr)
    fl = np.array([hl * ul, hl * ul * ul + 0.5 * G * hl * hl])
    fr = np.array([hr * ur, hr * ur * ur + 0.5 * G * hr * hr])
    ql, qr = np.array([hl, hl * ul]), np.array([hr, hr * ur])
    den = np.where(sr - sl == 0, 1, sr - sl)
    fh = (sr * fl - sl * fr + sl * sr * (qr - ql)) / den
    f = np.where(sl >= 0, fl, np.where(sr <= 0, fr, fh))
    return np.where(dl & dr, 0, f)


def minmod(a, b):
    return np.where(a * b > 0, np.sign(a) * np.minimum(abs(a), abs(b)), 0)


def rhs(h, q, dx, order):
    hh = np.concatenate([[h[0]], h, [h[-1]]])  # reflective walls
    qq = np.concatenate([[-q[0]], q, [-q[-1]]])
    u = np.where(hh > 1e-6, qq / np.maximum(hh, 1e-12), 0)
    if order == 1:
        hl, ul, hr, ur = hh[:-1], u[:-1], hh[1:], u[1:]
    else:
        sh = np.concatenate([[0], minmod(hh[1:-1] - hh[:-2], hh[2:] - hh[1:-1]), [0]])
        su = np.concatenate([[0], minmod(u[1:-1] - u[:-2], u[2:] - u[1:-1]), [0]])
        he, hw = np.maximum(hh + 0.5 * sh, 0), np.maximum(hh - 0.5 * sh, 0)
        hl, ul, hr, ur = he[:-1], (u + 0.5 * su)[:-1], hw[1:], (u - 0.5 * su)[1:]
    f = hll_flux(hl, ul, hr, ur)
    return -(f[0][1:] - f[0][:-1]) / dx, -(f[1][1:] - f[1][:-1]) / dx


def run(h, q, dx, t_end, order, cfl=0.45):
    t = 0.0
    while t < t_end - 1e-12:
        u = np.where(h > 1e-6, q / np.maximum(h, 1e-12), 0)
        dt = min(cfl * dx / np.max(abs(u) + np.sqrt(G * h)), t_end - t)
        a, b = rhs(h, q, dx, order)
        h1, q1 = np.maximum(h + dt * a, 0), q + dt * b
        if order == 2:  # Heun
            q1 = np.where(h1 > 1e-6, q1, 0)
            a2, b2 = rhs(h1, q1, dx, 2)
            h1, q1 = np.maximum(0.5 * (h + h1 + dt * a2), 0), 0.5 * (q + q1 + dt * b2)
        h, q = h1, np.where(h1 > 1e-6, q1, 0)
        t += dt
    return h


def ritter(x, t, x0=10.0, h0=1.0):
    c0, xi = math.sqrt(G * h0), (x - x0) / t
    return np.where(xi <= -c0, h0, np.where(xi >= 2 * c0, 0, (2 * c0 - xi) ** 2 / (9 * G)))


def stoker(x, t, hl, hr, x0=10.0):
    cl = math.sqrt(G * hl)

    def f(hm):
        return 2 * (cl - math.sqrt(G * hm)) - (hm - hr) * math.sqrt(G * (hm + hr) / (2 * hm * hr))

    a, b = hr, hl
    for _ in range(200):
        m = 0.5 * (a + b)
        a, b = (m, b) if (f(m) > 0) == (f(a) > 0) else (a, m)
    hm = 0.5 * (a + b)
    um, cm = 2 * (cl - math.sqrt(G * hm)), math.sqrt(G * hm)
    s, xi = hm * um / (hm - hr), (x - x0) / t
    return np.where(xi <= -cl, hl, np.where(xi <= um - cm, (2 * cl - xi) ** 2 / (9 * G), np.where(xi <= s, hm, hr)))


def main():
    length, t_end = 20.0, 1.0
    for case in ("ritter", "stoker"):
        for order in (1, 2):
            prev = None
            for dx in (0.1, 0.05, 0.025):
                x = (np.arange(int(round(length / dx))) + 0.5) * dx
                if case == "ritter":
                    h0, exact = np.where(x < 10, 1.0, 0.0), ritter(x, t_end)
                else:
                    h0, exact = np.where(x < 10, 1.0, 0.1), stoker(x, t_end, 1.0, 0.1)
                err = np.sum(abs(run(h0, np.zeros_like(h0), dx, t_end, order) - exact)) * dx
                ratio = f"  ratio {prev / err:.2f}" if prev else ""
                print(f"{case:7s} order {order}  dx {dx:<6}  L1 {err:.4f} m²{ratio}")
                prev = err


if __name__ == "__main__":
    main()
