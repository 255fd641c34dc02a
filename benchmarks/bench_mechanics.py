"""Benchmarks of araneus.mechanics: large linear frame, speed vs PyNite (issue 8), and
nonlinear virtual tests to final failure (issue 18).

Targets: a linear frame of ~100,000 members solved in <= 5 s (vectorised assembly +
AMG-preconditioned CG); >= 10x faster than PyNite on a 5,000-member frame with the same
answers (frames are jittered cubic lattices with face diagonals, built with numpy);
an orb web (``build orb --seed 4``) pretensioned silk tension test to final failure
<= 5 s; the default tent web (junction-only form, ~15.5k nodes) silk and PLA tension
tests <= 60 s each. Prints medians of repeats.

Usage: python benchmarks/bench_mechanics.py [--quick] [--only linear|nonlinear]
"""

from __future__ import annotations

import sys
import time

import numpy as np
from _results import record

from araneus.mechanics.elements import circular_section, frame_stiffness
from araneus.mechanics.linear import analyze_linear
from araneus.mechanics.virtual import MAX_STRAIN


def lattice(n: int, h: float = 10.0, jitter: float = 0.15, seed: int = 0):
    """Jittered n x n x n lattice with x-z and y-z face diagonals: (pos, edges)."""
    rng = np.random.default_rng(seed)
    idx = np.arange(n**3).reshape(n, n, n)
    grid = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).reshape(-1, 3)
    e = np.concatenate(
        [
            np.c_[idx[:-1].ravel(), idx[1:].ravel()],
            np.c_[idx[:, :-1].ravel(), idx[:, 1:].ravel()],
            np.c_[idx[:, :, :-1].ravel(), idx[:, :, 1:].ravel()],
            np.c_[idx[:-1, :, :-1].ravel(), idx[1:, :, 1:].ravel()],
            np.c_[idx[:, :-1, :-1].ravel(), idx[:, 1:, 1:].ravel()],
        ]
    )
    pos = (grid + rng.uniform(-jitter, jitter, grid.shape)) * h
    return pos, e


def problem(n: int, seed: int = 0):
    pos, edges = lattice(n, seed=seed)
    fixed = np.flatnonzero(pos[:, 2] < 0.5 * 10.0)
    loads = np.zeros((len(pos), 6))
    top = pos[:, 2] > pos[:, 2].max() - 5.0
    loads[top, 0] = 1.0
    loads[top, 2] = -2.0
    return pos, edges, fixed, loads


CPU: list[float] = []  # process CPU time of the last median_time call (load indicator)


def median_time(fn, repeats: int) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls (CPU time of the median run kept in CPU)."""
    times, cpu, out = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    CPU[:] = [float(np.median(cpu))]
    return float(np.median(times)), out


def bench_large(n: int, repeats: int) -> None:
    pos, edges, fixed, loads = problem(n)
    t_asm, _ = median_time(lambda: frame_stiffness(pos, edges, 2500.0, 960.0, 1.0), repeats)

    def solve():
        return analyze_linear(pos, edges, E=2500.0, diameter=1.0, fixed_nodes=fixed,
                              loads=loads, method="amg-cg")  # fmt: skip

    t_tot, (res, _) = median_time(solve, repeats)
    record("bench_mechanics", "large_frame_s", t_tot)
    record("bench_mechanics", "large_frame_cg_iterations", res.iterations)
    print(
        f"large frame: {len(edges):,} members, {len(pos) * 6:,} DOF: assembly {t_asm:.2f} s, "
        f"total solve {t_tot:.2f} s wall, {CPU[0]:.2f} s CPU ({res.method}, {res.iterations} CG iterations); "
        f"target <= 5 s: {'PASS' if t_tot <= 5 else 'FAIL'}"
    )


def pynite_solve(pos, edges, fixed, loads, E, nu, d):
    try:
        from Pynite import FEModel3D
    except ImportError:
        from PyNite import FEModel3D
    m = FEModel3D()
    for i, p in enumerate(pos):
        m.add_node(f"N{i}", *map(float, p))
    m.add_material("mat", E, E / (2 * (1 + nu)), nu, 1e-9)
    area, inertia, polar = circular_section(d)
    m.add_section("sec", float(area), float(inertia), float(inertia), float(polar))
    for k, (i, j) in enumerate(edges):
        m.add_member(f"M{k}", f"N{i}", f"N{j}", "mat", "sec")
    for i in fixed:
        m.def_support(f"N{i}", True, True, True, True, True, True)
    for i in np.flatnonzero(np.abs(loads).sum(axis=1)):
        for c, name in enumerate(("FX", "FY", "FZ", "MX", "MY", "MZ")):
            if loads[i, c]:
                m.add_node_load(f"N{i}", name, float(loads[i, c]))
    m.analyze_linear(check_statics=False)
    keys = ("DX", "DY", "DZ", "RX", "RY", "RZ")
    return np.array(
        [[getattr(m.nodes[f"N{i}"], k)["Combo 1"] for k in keys] for i in range(len(pos))]
    )


def bench_vs_pynite(n: int, repeats: int) -> None:
    pos, edges, fixed, loads = problem(n, seed=1)
    E, nu, d = 2500.0, 0.3, 1.0

    def ours():
        return analyze_linear(pos, edges, E=E, nu=nu, diameter=d, fixed_nodes=fixed, loads=loads)[0]

    t_ours, res = median_time(ours, repeats)
    cpu_ours = CPU[0]
    t0 = time.perf_counter()
    ref = pynite_solve(pos, edges, fixed, loads, E, nu, d)
    t_pyn = time.perf_counter() - t0
    rel = np.abs(res.u - ref).max() / np.abs(ref).max()
    speed = t_pyn / t_ours
    for name, value in (("frame_s", t_ours), ("pynite_s", t_pyn), ("speedup_vs_pynite", speed),
                        ("max_relative_difference", rel)):  # fmt: skip
        record("bench_mechanics", name, value)
    print(
        f"vs PyNite: {len(edges):,} members: araneus {t_ours:.3f} s ({cpu_ours:.3f} s CPU, "
        f"{res.method}), PyNite "
        f"{t_pyn:.2f} s (one run), speed-up {speed:.0f}x, max |du|/max|u| = {rel:.1e}; "
        f"target >= 10x and <= 1e-6: {'PASS' if speed >= 10 and rel <= 1e-6 else 'FAIL'}"
    )


class _OverBudget(Exception):
    pass


def nonlinear_test(web, test: str, material: str, repeats: int, target: float, label: str,
                   budget: float = 600.0):  # fmt: skip
    """Median wall time of a virtual test to final failure, printed with its figures;
    a run still going after ``budget`` seconds is stopped and reported as such.
    Returns (seconds, result) or (None, grip displacement reached [mm])."""
    from araneus.mechanics.virtual import virtual_test

    reached = [0.0, 0]

    def run():
        t0 = time.perf_counter()

        def watch(frac, broken):
            reached[:] = [frac, broken]
            if time.perf_counter() - t0 > budget:
                raise _OverBudget

        return virtual_test(web, test, material, progress=watch)

    try:
        t, r = median_time(run, repeats)
    except _OverBudget:
        print(
            f"{label}: {web.n_nodes:,} nodes, {material} {test}: NOT finished in {budget:g} s "
            f"(grips at {100 * reached[0] * MAX_STRAIN:.2f}% strain, {reached[1]} members "
            f"broken); target final failure in <= {target:g} s: FAIL"
        )
        return None, reached[0]
    ok = r.curve.failed and t <= target
    print(
        f"{label}: {web.n_nodes:,} nodes, {web.n_edges:,} threads, {material} {test}: "
        f"{t:.1f} s wall ({CPU[0]:.1f} s CPU), {len(r.curve.force)} points, "
        f"{r.curve.iterations} Newton iterations, {r.curve.factorisations} factorisations; "
        f"peak {1e3 * r.peak_force:.3g} mN, {int(r.broken.sum())} broken, {r.end}; "
        f"target final failure in <= {target:g} s: {'PASS' if ok else 'FAIL'}"
    )
    return t, r


def bench_nonlinear(quick: bool) -> None:
    from araneus.builders import build, default_web

    orb = build("orb", seed=4)
    t, r = nonlinear_test(orb, "tension-z", "silk", 1 if quick else 3, 5.0, "orb")
    if t is not None:
        record("bench_mechanics", "orb_silk_tension_s", t)
        record("bench_mechanics", "orb_silk_peak_mN", 1e3 * r.peak_force)
    if quick:
        return
    tent = default_web()
    axis = "xyz"[int(np.argmax(np.ptp(tent.pos, axis=0)))]
    for mat in ("silk", "pla"):
        t, r = nonlinear_test(tent, f"tension-{axis}", mat, 1, 60.0, "default tent web", 300.0)
        if t is None:
            record("bench_mechanics", f"tent_{mat}_strain_percent_in_300s", 100 * r * MAX_STRAIN)
        else:
            record("bench_mechanics", f"tent_{mat}_tension_s", t)
            record("bench_mechanics", f"tent_{mat}_peak_mN", 1e3 * r.peak_force)


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else ""
    if only != "nonlinear":
        bench_vs_pynite(9 if quick else 11, 3)  # 11^3 lattice: 5,566 members
        bench_large(14 if quick else 28, 1 if quick else 3)  # 28^3 lattice: 104,328 members
    if only != "linear":
        bench_nonlinear(quick)
