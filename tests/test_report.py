"""Tests of araneus.report: the self-contained HTML report, its formatting, warnings and
legends, and the page as headless Chromium renders it."""

import numpy as np
import pytest

from _page_text import RAW_VALUES, visible_text
from araneus import InputError, WebGraph
from araneus.report import Report, check_in_browser, find_chromium, web_figure

needs_chromium = pytest.mark.skipif(
    find_chromium() is None, reason="Chromium not installed (apt-get install chromium)"
)


def small_web():
    rng = np.random.default_rng(0)
    e = np.array([[i, i + 1] for i in range(19)])
    return WebGraph(
        rng.random((20, 3)), e, edge_attrs={"thread": (np.arange(19) % 3 + 1).astype(np.int8)}
    )


def test_web_figure_traces_per_thread_type_and_values():
    w = small_web()
    fig = web_figure(w)
    assert sorted(t.name for t in fig.data) == ["frame", "radial", "spiral"]
    fig2 = web_figure(w, values=np.arange(19.0))
    assert len(fig2.data) == 1
    with pytest.raises(InputError, match="one entry per edge"):
        web_figure(w, values=np.arange(3.0))
    fig3 = web_figure(w, max_edges=5)
    assert "showing 5 of 19" in fig3.layout.title.text


def test_report_escapes_text_and_embeds_plotly_once(tmp_path):
    rep = Report("T <b>")
    rep.text("<script>alert(1)</script>")
    rep.table([{"a": 1.234567, "b": "<x>"}], title="t&t")
    rep.settings({"k": "<v>"})
    rep.web(small_web(), title="w1")
    rep.web(small_web(), title="w2")
    out = rep.write(tmp_path / "r.html")
    page = out.read_text()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;x&gt;" in page and "1.23" in page  # three significant digits
    assert page.count("plotly.js v") <= 2  # one embedded copy (its header comment)
    assert 'data-plots-expected="2"' in page
    assert "cdn.plot.ly" not in page.split("</script>", 2)[-1]


def test_report_image_missing(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        Report("x").image(tmp_path / "nope.png")


@needs_chromium
def test_report_renders_in_headless_chromium(tmp_path):
    rep = Report("browser check")
    rep.web(small_web(), title="web")
    rep.web(small_web(), title="values", values=np.arange(19.0))
    import plotly.graph_objects as go

    rep.figure(go.Figure(go.Bar(x=["a", "b"], y=[1, 2])), title="bars")
    rep.figure(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), title="xy")
    path = rep.write(tmp_path / "r.html")
    health = check_in_browser(path, screenshot=tmp_path / "shot.png")
    assert health == {"js_errors": 0, "plots_rendered": 4, "plots_expected": 4, "warnings": 0,
                      "page_overflow": 0, "overflowing": 0, "tables_scrolling": 0}  # fmt: skip
    assert (tmp_path / "shot.png").stat().st_size > 10_000


@needs_chromium
def test_browser_check_detects_js_errors(tmp_path):
    rep = Report("broken")
    rep.web(small_web(), title="web")
    page = rep.to_html().replace("<h1>", "<script>notAFunction();</script><h1>", 1)
    (tmp_path / "b.html").write_text(page)
    health = check_in_browser(tmp_path / "b.html")
    assert health["js_errors"] >= 1


# ------------------------------------------------------------------ legends
def test_legends_name_every_thread_never_unknown():
    from araneus.report.plot import UNTYPED_PIECE_THREAD, UNTYPED_THREAD, thread_labels

    w = small_web()
    codes = w.edge_attrs["thread"].copy()
    codes[:3] = 0  # no type recorded
    codes[3] = 42  # outside the table
    w2 = w.replace(edge_attrs={"thread": codes})
    names = [t.name for t in web_figure(w2).data]
    assert UNTYPED_THREAD in names and "thread code 42" in names and "unknown" not in names
    assert thread_labels(w2)[0] == UNTYPED_THREAD
    assembled = w2.replace(meta={"source": "araneus.assemble"})
    assert thread_labels(assembled)[0] == UNTYPED_PIECE_THREAD
    assert [t.name for t in web_figure(assembled).data][0] == UNTYPED_PIECE_THREAD
    plain = WebGraph(w.pos, w.edges)  # no thread types at all: one trace, no legend
    (trace,) = web_figure(plain).data
    assert trace.showlegend is False and "unknown" not in trace.name


# ------------------------------------------------------------------ formatting
def test_tables_and_settings_are_formatted_for_people(tmp_path):
    rep = Report("formats")
    rep.table(
        [{"count": 16536.0, "share": 0.9167, "ok": True, "missing": None, "list": [],
          "tiny": 1.262e-11, "[N/mm]": np.float32(0.02551)}],
        title="t", kinds={"share": "percent"},
    )  # fmt: skip
    rep.settings({"config": {"quick": True, "source": [], "out": "o", "threads": None},
                  "timings": {"stage": 183.121}})  # fmt: skip
    page = rep.to_html()
    text = visible_text(page)
    assert not RAW_VALUES.search(text), RAW_VALUES.search(text)
    for shown in ("16,536", "92%", "yes", "none", "1.26\u00a0×\u00a010⁻¹¹", "0.0255", "183"):
        assert shown in text, shown
    assert '"quick"' not in page and "<pre>" not in page  # settings as a table, not JSON
    assert 'class="table-wrap"' in page  # wide tables scroll inside their box


def test_warnings_beside_their_section_and_listed_on_top():
    rep = Report("warnings")
    rep.web(small_web(), title="tower", warnings=["mesh has 2 separate bodies"])
    rep.table([{"a": 1}], title="tests", warnings=["stopped early: no equilibrium"])
    rep.warnings([], title="nothing")  # an empty list adds nothing
    rep.warnings(["3 members carry no load"], title="mechanics")
    assert [w for _, w in rep.all_warnings()] == [
        "mesh has 2 separate bodies", "stopped early: no equilibrium", "3 members carry no load"
    ]  # fmt: skip
    page = rep.to_html()
    assert 'data-warnings="3"' in page and "3 warnings in this report" in page
    top, rest = page.split('id="warnings"', 1)[1].split("</div>", 1)
    for k in range(3):
        assert f'href="#warn-{k}"' in top and f'id="warn-{k}"' in rest
    # each box sits right before what it concerns and names it
    box = rest.index("mesh has 2 separate bodies")
    assert "Warning (tower)" in rest[:box] and rest.index('class="fig"') > box
    assert rest.index("stopped early") < rest.index("<table>")
    with pytest.raises(InputError, match="list of strings"):
        rep.warnings("one string")
    assert "No warnings" in Report("clean").to_html()


def test_demo_warnings_come_from_the_tools():
    """The demo's warnings are those of the real tools: assembly (bridges over gaps, pieces
    that do not touch), the printability check of the mesh, the decoder's repair counts."""
    from araneus.assembly import CurveSpec, assemble
    from araneus.demo import ModelRun, StructureRun
    from araneus.fabrication import build_mesh
    from araneus.metrics import evaluate
    from araneus.models.decode import DecodeStats
    from araneus.report.demo import model_warnings, structure_warnings

    square = WebGraph(np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0.0]]),
                      [[0, 1], [1, 2], [2, 3], [3, 0]])  # fmt: skip
    web, asm = assemble(CurveSpec("line", {"length": 20.0}), square, steps=3, overlap=0.25)
    mesh = build_mesh(web, strut=0.8).report
    st = StructureRun("line", web, asm.as_dict(), mesh_summary={"warnings": mesh.warnings})
    got = structure_warnings(st)
    assert any("2 bridges" in w for w in got) and any("do not touch" in w for w in got)
    assert mesh.warnings and all(f"STL: {w}" in got for w in mesh.warnings)

    rng = np.random.default_rng(0)
    chain = [WebGraph(rng.random((6, 3)), [[i, i + 1] for i in range(k)]) for k in (5, 3, 5)]
    stats = DecodeStats(samples=3, repaired_samples=2, self_loops=2, bridge_nodes=3,
                        bridge_samples=1)  # fmt: skip
    metrics = evaluate(chain, chain, decode_stats=stats, label="model alone")
    run = ModelRun("toy", chain, np.zeros((3, 7)), np.zeros((3, 7)), np.zeros(3, int),
                   metrics, 0.0)  # fmt: skip
    repaired, invalid = model_warnings(run)
    assert "repaired 67% of 3 webs" in repaired and "2 self-loops" in repaired
    assert "1 joined by the sampler" in repaired and "3 nodes" in repaired
    assert "33% of the webs are not valid" in invalid and "connected: 1" in invalid


@needs_chromium
def test_wide_tables_fit_a_narrow_window(tmp_path):
    """A 16-column table with long headers wraps (or scrolls inside its box) in an 800-pixel
    window: nothing sticks out of the page; warnings are counted on the page."""
    rep = Report("narrow window")
    row = {f"a long column header number {k} [unit]": 1234.5678 * k for k in range(16)}
    rep.table([row, row], title="wide", warnings=["a warning"])
    rep.settings({"long": "x" * 300})
    path = rep.write(tmp_path / "wide.html")
    health = check_in_browser(path, width=800, height=900)
    assert health["page_overflow"] == 0 and health["overflowing"] == 0
    assert health["js_errors"] == 0 and health["warnings"] == 1
