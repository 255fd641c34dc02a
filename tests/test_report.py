import numpy as np
import pytest

from araneus import InputError, WebGraph
from araneus.report import Report, check_in_browser, find_chromium, web_figure


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
    assert "&lt;x&gt;" in page and "1.235" in page
    assert page.count("plotly.js v") <= 2  # one embedded copy (its header comment)
    assert 'data-plots-expected="2"' in page
    assert "cdn.plot.ly" not in page.split("</script>", 2)[-1]


def test_report_image_missing(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        Report("x").image(tmp_path / "nope.png")


@pytest.mark.skipif(
    find_chromium() is None, reason="Chromium not installed (apt-get install chromium)"
)
def test_report_renders_in_headless_chromium(tmp_path):
    rep = Report("browser check")
    rep.web(small_web(), title="web")
    rep.web(small_web(), title="values", values=np.arange(19.0))
    import plotly.graph_objects as go

    rep.figure(go.Figure(go.Bar(x=["a", "b"], y=[1, 2])), title="bars")
    rep.figure(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), title="xy")
    path = rep.write(tmp_path / "r.html")
    health = check_in_browser(path, screenshot=tmp_path / "shot.png")
    assert health == {"js_errors": 0, "plots_rendered": 4, "plots_expected": 4}
    assert (tmp_path / "shot.png").stat().st_size > 10_000


@pytest.mark.skipif(
    find_chromium() is None, reason="Chromium not installed (apt-get install chromium)"
)
def test_browser_check_detects_js_errors(tmp_path):
    rep = Report("broken")
    rep.web(small_web(), title="web")
    page = rep.to_html().replace("<h1>", "<script>notAFunction();</script><h1>", 1)
    (tmp_path / "b.html").write_text(page)
    health = check_in_browser(tmp_path / "b.html")
    assert health["js_errors"] >= 1
