"""Warnings of a demo run, as the report shows them beside their figures.

Each function turns what a tool recorded (decoder repair counts and validity from
:func:`araneus.metrics.evaluate`, the assembly report, the mesh's printability warnings,
a virtual test's end) into sentences formatted by :func:`araneus.report.formatting.fmt`.
"""

from __future__ import annotations

from .formatting import count_noun, fmt

#: Material names as the report shows them.
MATERIAL_LABEL = {"silk": "spider silk (dragline/viscid)", "pla": "printed PLA"}


def _pct(x) -> str:
    return fmt(x, "percent")


#: Decoder repair counts (``DecodeStats``) named in the report's warnings.
_REPAIR_KINDS = {
    "nonfinite_nodes": "non-finite nodes",
    "self_loops": "self-loops",
    "dangling": "dangling indices",
    "asymmetric": "one-sided edges",
    "degree_cut": "edges cut at the degree limit",
    "isolated_dropped": "isolated nodes dropped",
    "component_nodes_dropped": "nodes dropped outside the largest part",
    "empty": "empty webs",
}


def model_warnings(run) -> list[str]:
    """What the tools flagged about one model's generated webs (model alone first):
    decoder repairs (with what was repaired) and invalid webs."""
    out = []
    for m in (run.alone_metrics, run.metrics):
        if m is None:
            continue
        label = f"{run.name}, {m.get('label') or 'sampled'}"
        rep = m.get("repair") or {}
        rate = rep.get("repair_rate", m.get("repair_rate"))
        if rate:
            n = rep.get("samples") or m.get("n_generated") or 0
            text = f"{label}: the decoder repaired {_pct(rate)} of {count_noun(n, 'web')}"
            if rep.get("bridge_samples"):
                text += (f" ({fmt(rep['bridge_samples'])} joined by the sampler: the model's "
                         f"draw left {count_noun(rep.get('bridge_nodes', 0), 'node')} "
                         "without an earlier neighbour)")  # fmt: skip
            kinds = [f"{fmt(rep[k])} {v}" for k, v in _REPAIR_KINDS.items() if rep.get(k)]
            out.append(text + ("; " + ", ".join(kinds) if kinds else ""))
        vun = m.get("vun") or {}
        if vun.get("valid") is not None and vun["valid"] < 1:
            failed = [f"{k.replace('_', ' ')}: {fmt(v)}" for k, v in
                      (vun.get("failures") or {}).items() if v]  # fmt: skip
            out.append(f"{label}: {_pct(1 - vun['valid'])} of the webs are not valid"
                       + (f" (failed {', '.join(failed)})" if failed else ""))  # fmt: skip
    return out


def structure_warnings(st) -> list[str]:
    """What the tools flagged about one assembled structure: assembly (resampled pieces,
    bridges over gaps, relaxed degree limits, nodes left out) and its mesh (printability:
    crossing struts, separate bodies, thin struts, narrow gaps, ...)."""
    a, out = st.assembly, []
    if a.get("resampled_pieces"):
        out.append(f"assembly: {count_noun(a['resampled_pieces'], 'piece')} resampled "
                   "(the model's draw was too small in its largest part)")  # fmt: skip
    eff = a.get("effective_overlap")
    if eff is not None and eff < 0:
        out.append(f"assembly: consecutive pieces do not touch: spaced {fmt(1 - eff)} piece "
                   f"sizes apart along the curve (overlap {_pct(a.get('overlap'))} asked, "
                   f"{_pct(eff)} used to fit the curve)")  # fmt: skip
    if a.get("bridges"):
        verb = "joins" if a["bridges"] == 1 else "join"
        out.append(f"assembly: {count_noun(a['bridges'], 'bridge')} (drawn as stitches) {verb} "
                   "parts that no stitch reached")  # fmt: skip
    if a.get("degree_limit_relaxed"):
        verb = "exceeds" if a["degree_limit_relaxed"] == 1 else "exceed"
        out.append(f"assembly: {count_noun(a['degree_limit_relaxed'], 'bridge end')} {verb} "
                   f"the degree limit of {fmt(a.get('max_degree'))}")  # fmt: skip
    dropped = int(a.get("nodes", st.web.n_nodes)) - st.web.n_nodes
    if dropped > 0:
        out.append(f"assembly: only the largest connected part is kept "
                   f"({count_noun(dropped, 'node')} of {fmt(a['nodes'])} left out)")  # fmt: skip
    out += [f"STL: {w}" for w in st.mesh_summary.get("warnings", [])]
    return out


def tension_test_warnings(structures: dict) -> list[str]:
    """What the virtual tests flagged: a test that stopped before its final strain (and
    why), and members that carry no load (not connected to a grip or support)."""
    out = []
    for st in structures.values():
        for mat, t in st.tests.items():
            label = f"{st.name}, {MATERIAL_LABEL.get(mat, mat)} {t.test}"
            stopped = getattr(t.curve, "stopped", "")
            if stopped:
                out.append(f"{label}: stopped early: {stopped}")
            idle = getattr(t, "n_unloaded_members", 0)
            if idle:
                out.append(f"{label}: {count_noun(idle, 'member')} of {fmt(st.web.n_edges)} "
                           "carry no load (not connected to a grip or support; left out)")  # fmt: skip
    return out


__all__ = ["MATERIAL_LABEL", "model_warnings", "structure_warnings", "tension_test_warnings"]
