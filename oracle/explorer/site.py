"""The explorer's pages: Jinja2 templates rendered from a `Snapshot`, served live by FastAPI
(each page polls its JSON endpoint and swaps in the fresh fragment, no reload) or written once as
static files (`results/explorer/index.html` after `make demo`).

Charts are Plotly, served from the `plotly` wheel's bundled `plotly.min.js` (no CDN).
"""

from __future__ import annotations

import logging
import math
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from oracle.explorer.reader import (
    ExplorerReader,
    FeedView,
    OutputView,
    Snapshot,
    duration,
    utc,
)

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
PAGES = {"feeds": "Feeds", "reports": "Reports", "models": "Models", "health": "Health"}
STATIC_FILES = {"feeds": "index.html", "reports": "reports.html", "models": "models.html",
                "health": "health.html"}  # fmt: skip
ASSETS = ("explorer.css", "explorer.js")


def plotly_js() -> Path:
    """plotly.js as bundled in the `plotly` wheel."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the plotly wheel ships no plotly.min.js")
    return path


def _short(value: str | None, keep: int = 6) -> str:
    if not value:
        return ""
    return value if len(value) <= 2 + 2 * keep else f"{value[: 2 + keep]}…{value[-keep:]}"


ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
TRADING_DAYS = 252  # annualising a daily volatility: x sqrt(252)


def human_units(output: OutputView, feed: FeedView) -> str:
    """An answer as a person reads it. Proofcast's feeds publish [log vol %, 99 % VaR %]: the
    first is the log of tomorrow's daily volatility in percent, so daily vol % = exp(answer)
    and annualised = daily x sqrt(252); the VaR is a 1-day loss in percent."""
    if output.answer is None or feed.var_output is None or len(feed.outputs) != 2:
        return ""
    value = float(output.answer)
    if output.index == feed.var_output:
        return f"{value:.2f} % 1-day loss at 99 %"
    daily = math.exp(value)
    return f"{daily:.2f} % daily · {daily * math.sqrt(TRADING_DAYS):.1f} % annualised volatility"


ENV.filters.update(utc=utc, duration=duration, short=_short)
ENV.globals.update(human_units=human_units)


def feed_charts(snapshot: Snapshot) -> dict[str, Any]:
    """Plotly figures (data + layout) of every feed's answer history: one panel per output on a
    shared time axis, one point per round (x: observation time, the adapters' `startedAt`)."""
    charts = {}
    for feed in snapshot.feeds:
        rows = max(len(feed.outputs), 1)
        data, layout = (
            [],
            {
                "height": 70 + 150 * rows,
                "margin": {"l": 60, "r": 20, "t": 10, "b": 45},
                "showlegend": False,
                "grid": {"rows": rows, "columns": 1, "pattern": "coupled"},
                "xaxis": {"type": "date", "title": {"text": "observation time (UTC)"}},
            },
        )
        for j, output in enumerate(feed.outputs):
            axis = "y" if j == 0 else f"y{j + 1}"
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": output.name,
                    "x": [utc(p.observed_at).removesuffix(" UTC") for p in feed.history],
                    "y": [p.answers[j] for p in feed.history],
                    "customdata": [p.round_id for p in feed.history],
                    "hovertemplate": "round %{customdata}<br>%{x}<br>%{y}<extra></extra>",
                    "xaxis": "x",
                    "yaxis": axis,
                }
            )
            layout["yaxis" if j == 0 else f"yaxis{j + 1}"] = {
                "title": {"text": output.name[:24]},
                "automargin": True,
            }
        charts[f"chart-{feed.id[2:14]}"] = {"data": data, "layout": layout}
        if feed.backtest is not None:
            charts[f"backtest-{feed.id[2:14]}"] = backtest_chart(feed)
    return charts


def _time(timestamp: int) -> str:
    """A unix time as plotly reads a date ("YYYY-MM-DD HH:MM:SS", UTC)."""
    return utc(timestamp).removesuffix(" UTC")


def _vertical_line(x: str) -> dict[str, Any]:
    return {"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
            "line": {"color": "#8a6100", "dash": "dot", "width": 1}}  # fmt: skip


def backtest_chart(feed: FeedView) -> dict[str, Any]:
    """A feed's VaR backtest: the band down to minus the VaR in force each day (published the
    round before), the realised returns the reports carried, breaches (VaRBreached) marked,
    and days the feed missed (BacktestGap) as dashed lines. x: each bar's close."""
    assert feed.backtest is not None
    days = feed.backtest.days
    scored = [d for d in days if not d.gap and d.var_pct is not None]
    breaches = [d for d in days if d.breached]
    gaps = [d for d in days if d.gap]
    hover = "round %{customdata}<br>%{x}<br>%{y:.3f} %<extra>%{fullData.name}</extra>"
    data = [
        {"type": "scatter", "mode": "lines", "name": "VaR 99 % as a loss (set the day before)",
         "x": [_time(d.observed_at) for d in scored], "y": [-d.var_pct for d in scored],
         "customdata": [d.round_id for d in scored], "hovertemplate": hover,
         "line": {"shape": "hvh", "color": "#2f5bd3", "width": 1.5},
         "fill": "tozeroy", "fillcolor": "rgba(47, 91, 211, 0.10)"},
        {"type": "scatter", "mode": "lines+markers", "name": "realised return",
         "x": [_time(d.observed_at) for d in days if d.realized_pct is not None],
         "y": [d.realized_pct for d in days if d.realized_pct is not None],
         "customdata": [d.round_id for d in days if d.realized_pct is not None],
         "hovertemplate": hover, "line": {"color": "#67717d", "width": 1},
         "marker": {"size": 5, "color": "#1d232b"}},
        {"type": "scatter", "mode": "markers", "name": "breach",
         "x": [_time(d.observed_at) for d in breaches], "y": [d.realized_pct for d in breaches],
         "customdata": [d.round_id for d in breaches], "hovertemplate": hover,
         "marker": {"symbol": "x", "size": 12, "color": "#b42318", "line": {"width": 2}}},
        {"type": "scatter", "mode": "markers", "name": "missed day (gap, not scored)",
         "x": [_time(d.observed_at) for d in gaps], "y": [0.0 for _ in gaps],
         "customdata": [d.round_id for d in gaps], "hovertemplate": "round %{customdata}<br>"
         "%{x}<br>gap: the bar before was not published<extra></extra>",
         "marker": {"symbol": "diamond-open", "size": 11, "color": "#8a6100"}},
    ]  # fmt: skip
    layout = {
        "height": 320,
        "margin": {"l": 60, "r": 20, "t": 30, "b": 45},
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "xaxis": {"type": "date", "title": {"text": "bar close (UTC)"}},
        "yaxis": {"title": {"text": "1-day log return, %"}, "zeroline": True},
        "shapes": [_vertical_line(_time(d.observed_at)) for d in gaps],
    }
    return {"data": data, "layout": layout}


@dataclass(frozen=True)
class Links:
    """Where pages and assets are: the live server's routes or the static snapshot's files."""

    static: bool

    def page(self, name: str) -> str:
        if self.static:
            return STATIC_FILES[name]
        return "/" if name == "feeds" else f"/{name}"

    def asset(self, name: str) -> str:
        return f"assets/{name}" if self.static else f"/static/{name}"


def render_fragment(page: str, snapshot: Snapshot) -> str:
    """The page's content (what a refresh swaps in)."""
    if page not in PAGES:
        raise KeyError(page)
    return ENV.get_template(f"_{page}.html").render(
        s=snapshot, charts=feed_charts(snapshot) if page == "feeds" else {}
    )


def render_page(page: str, snapshot: Snapshot | None, *, static: bool, refresh: float,
                error: str | None = None) -> str:  # fmt: skip
    """A whole page; `snapshot` None shows `error` (e.g. the RPC is down) and keeps polling."""
    links = Links(static)
    return ENV.get_template("base.html").render(
        page=page,
        pages=PAGES,
        links=links,
        content=render_fragment(page, snapshot) if snapshot is not None else "",
        error=error,
        config={
            "api": None if static else f"/api/pages/{page}.json",
            "refresh": 0 if static else refresh,
        },
        snapshot=snapshot,
    )


def write_static_site(snapshot: Snapshot, out: Path) -> Path:
    """Every page as a static file under `out` (index.html is Feeds) with its assets in
    `out/assets/`; returns the index path."""
    out.mkdir(parents=True, exist_ok=True)
    assets = out / "assets"
    assets.mkdir(exist_ok=True)
    for name in ASSETS:
        shutil.copyfile(STATIC_DIR / name, assets / name)
    shutil.copyfile(plotly_js(), assets / "plotly.min.js")
    for page, filename in STATIC_FILES.items():
        html = render_page(page, snapshot, static=True, refresh=0)
        (out / filename).write_text(html, encoding="utf-8")
    return out / STATIC_FILES["feeds"]


class SnapshotCache:
    """The latest snapshot, re-read at most every `ttl` seconds (many tabs, one chain read)."""

    def __init__(self, read: Callable[[], Snapshot], ttl: float) -> None:
        self.read, self.ttl = read, ttl
        self._value: Snapshot | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def get(self) -> Snapshot:
        with self._lock:
            if self._value is None or time.monotonic() - self._at >= self.ttl:
                self._value = self.read()
                self._at = time.monotonic()
            return self._value


def create_app(reader: ExplorerReader, refresh: float = 5.0) -> FastAPI:
    """The read-only explorer: HTML pages, `/api/snapshot.json`, `/api/pages/<page>.json`."""
    app = FastAPI(title="Proofcast Explorer", docs_url=None, redoc_url=None, openapi_url=None)
    cache = SnapshotCache(reader.snapshot, ttl=min(1.0, refresh / 2))

    def current() -> tuple[Snapshot | None, str | None]:
        try:
            return cache.get(), None
        except Exception as exc:  # the RPC is down or answers nonsense: say so, keep serving
            log.warning("explorer: reading %s failed: %s", reader.address, exc)
            return None, f"{type(exc).__name__}: {exc}"

    def page(name: str) -> HTMLResponse:
        snapshot, error = current()
        html = render_page(name, snapshot, static=False, refresh=refresh, error=error)
        return HTMLResponse(html, status_code=200 if snapshot else 503)

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_asset() -> FileResponse:
        return FileResponse(plotly_js(), media_type="text/javascript")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", response_class=HTMLResponse)
    def feeds_page() -> HTMLResponse:
        return page("feeds")

    @app.get("/api/snapshot.json")
    def snapshot_json() -> JSONResponse:
        snapshot, error = current()
        if snapshot is None:
            raise HTTPException(503, error)
        return JSONResponse(snapshot.to_json())

    @app.get("/api/pages/{name}.json")
    def page_json(name: str) -> JSONResponse:
        if name not in PAGES:
            raise HTTPException(404, f"no page {name!r}; pages: {', '.join(PAGES)}")
        snapshot, error = current()
        if snapshot is None:
            raise HTTPException(503, error)
        return JSONResponse(
            {
                "html": render_fragment(name, snapshot),
                "block": snapshot.oracle.block,
                "generated_at": snapshot.generated_at,
            }
        )

    @app.get("/{name}", response_class=HTMLResponse)
    def other_page(name: str) -> HTMLResponse:
        if name not in PAGES or name == "feeds":
            raise HTTPException(404, f"no page {name!r}; pages: {', '.join(PAGES)}")
        return page(name)

    return app


def serve(reader: ExplorerReader, host: str, port: int, refresh: float) -> None:
    """Serve the explorer until Ctrl-C / SIGTERM."""
    import uvicorn

    uvicorn.run(create_app(reader, refresh), host=host, port=port, log_level="warning")


def demo_explorer(
    rpc_url: str,
    oracle: str,
    out: Path,
    *,
    federated: Path | None,
    journal: Path | None,
    serve_port: int | None = None,
    progress: Callable[[str], None] = log.info,
) -> Path:
    """What `proofcast demo` leaves: the static snapshot under `out`; with `serve_port`, also
    the live explorer on 127.0.0.1 until Ctrl-C (the caller keeps the chain up meanwhile)."""
    from oracle.explorer.reader import connect_readonly

    reader = ExplorerReader(connect_readonly(rpc_url), oracle, federated=federated, journal=journal)
    index = write_static_site(reader.snapshot(), out)
    progress(f"explorer snapshot: {index}")
    if serve_port is not None:
        progress(
            f"explorer live at http://127.0.0.1:{serve_port} (chain {rpc_url}); "
            "Ctrl-C stops both and prints the summary"
        )
        serve(reader, "127.0.0.1", serve_port, refresh=5.0)
    return index
