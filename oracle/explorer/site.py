"""The explorer's pages: Jinja2 templates rendered from a `Snapshot`, served live by FastAPI
(each page polls its JSON endpoint and swaps in the fresh fragment, no reload) or written once as
static files (`results/explorer/index.html` after `make demo`).

Charts are Plotly, served from the `plotly` wheel's bundled `plotly.min.js` (no CDN).
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from textwrap import wrap
from typing import Any

import jinja2
from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from markupsafe import Markup, escape

from oracle.explorer.reader import (
    AXIS_TITLES,
    LOG_VOL,
    ExplorerReader,
    FeedView,
    Snapshot,
    annualised,
    duration,
    utc,
)

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
PAGES = {"feeds": "Feeds", "reports": "Reports", "models": "Models", "health": "Health",
         "addresses": "Addresses"}  # fmt: skip
STATIC_FILES = {"feeds": "index.html", "reports": "reports.html", "models": "models.html",
                "health": "health.html", "addresses": "addresses.html"}  # fmt: skip
ASSETS = ("explorer.css", "explorer.js")


def plotly_js() -> Path:
    """plotly.js as bundled in the `plotly` wheel."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the plotly wheel ships no plotly.min.js")
    return path


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


def _short(value: str | None, keep: int = 6) -> str:
    if not value:
        return ""
    return value if len(value) <= 2 + 2 * keep else f"{value[: 2 + keep]}…{value[-keep:]}"


ADDRESS = re.compile(r"(?<![0-9a-fA-F])0x[0-9a-fA-F]{40}(?![0-9a-fA-F])")


def hex_html(value: str | None, *, href: str | None = None, keep: int = 4, cls: str = "") -> Markup:
    """A hex value (address, hash) that never wraps: shown as 0x1234…abcd, the middle kept in
    the text at font-size 0 (so copying, searching and `innerText` give the whole value), the
    whole value also in `title`; a link when `href`."""
    if not value:
        return Markup("")
    v = str(value)
    head, tail = 2 + keep, keep
    if len(v) > head + tail + 1:
        inner = Markup('<span>{}</span><span class="mid">{}</span><span>{}</span>').format(
            v[:head], v[head:-tail], v[-tail:]
        )
    else:
        inner = escape(v)
    code = Markup('<code class="{}" title="{}">{}</code>').format(
        " ".join(["hex", *cls.split()]), v, inner
    )
    return Markup('<a class="addr" href="{}">{}</a>').format(href, code) if href else code


@dataclass
class AddressBook:
    """Every address the pages show, with what it is (the Addresses page; each address on any
    page links to its entry there: no outside block explorer, works offline)."""

    links: Links
    entries: dict[str, tuple[str, list[str]]]  # lower-case address -> (as shown, roles)

    @classmethod
    def of(cls, snapshot: Snapshot | None, links: Links) -> AddressBook:
        book = cls(links, {})
        if snapshot is None:
            return book
        o = snapshot.oracle
        book.add(o.address, f"RiskOracle on chain {o.chain_id}")
        book.add(o.verifier, "halo2 proof verifier")
        book.add(o.admin, "admin")
        for i, a in enumerate(o.attesters):
            book.add(a, f"attester #{i} of config v{o.config_version} "
                        f"(threshold {o.threshold} of {len(o.attesters)})")  # fmt: skip
        for f in snapshot.feeds:
            for out in f.outputs:
                if out.adapter:
                    book.add(out.adapter, f"adapter (AggregatorV3) of {f.name} {out.name}")
        for r in reversed(snapshot.reports):
            book.add(r.transmitter, f"transmitted report {r.report_id}")
            for a in r.signers or r.signers_in_event:
                book.add(a, f"signed report {r.report_id}")
        for c in snapshot.oracle.changes:
            for a in ADDRESS.findall(c.args):
                book.add(a, f"named in admin change {c.function} ({c.status})")
        for rej in snapshot.rejections:
            for a in ADDRESS.findall(rej.error_args):
                book.add(a, f"named in the refusal of node round {rej.round} ({rej.error_name})")
        return book

    def add(self, address: str, role: str) -> None:
        _shown, roles = self.entries.setdefault(address.lower(), (address, []))
        if role not in roles:
            roles.append(role)

    @staticmethod
    def anchor(address: str) -> str:
        return f"addr-{address.lower()}"

    def href(self, address: str) -> str | None:
        if address.lower() not in self.entries:
            return None
        return f"{self.links.page('addresses')}#{self.anchor(address)}"

    def link(self, address: str | None, cls: str = "") -> Markup:
        """An address as a link to its Addresses entry, shortened, never wrapped."""
        if not address:
            return Markup('<span class="muted">—</span>')
        return hex_html(address, href=self.href(address), cls=cls)

    def linkify(self, text: str) -> Markup:
        """`text` escaped, each address in it a `link`."""
        out, last = Markup(""), 0
        for m in ADDRESS.finditer(text or ""):
            out += escape(text[last : m.start()]) + self.link(m.group(0))
            last = m.end()
        return out + escape((text or "")[last:])


ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(utc=utc, duration=duration, short=_short, hex=hex_html)

DAY_MS = 86_400_000
# Date ticks: hours only when zoomed below a day, else the date (never bare milliseconds).
DATE_TICKS = [
    {"dtickrange": [None, DAY_MS - 1], "value": "%H:%M\n%b %d, %Y"},
    {"dtickrange": [DAY_MS, None], "value": "%b %d\n%Y"},
]
MIN_SPAN = 6 * 86_400  # a chart's time axis spans at least this (one round: 3 days each side)


def date_axis(title: str, times: list[int]) -> dict[str, Any]:
    """A UTC date x axis whose title is never clipped; with less than `MIN_SPAN` of data (one
    round, or a few the same day) a range of `MIN_SPAN` centred on it, not a millisecond axis."""
    axis: dict[str, Any] = {
        "type": "date",
        "title": {"text": title, "standoff": 6},
        "automargin": True,
        "tickformatstops": DATE_TICKS,
        "hoverformat": "%Y-%m-%d %H:%M UTC",
    }
    if times and max(times) - min(times) < MIN_SPAN:
        middle = (max(times) + min(times)) // 2
        axis["range"] = [_time(middle - MIN_SPAN // 2), _time(middle + MIN_SPAN // 2)]
    return axis


PANEL, PANEL_GAP, TOP, BOTTOM = 150, 44, 26, 50  # px of the feed chart's stacked panels


def feed_chart(feed: FeedView) -> dict[str, Any]:
    """A feed's answer history, one panel per output stacked on one date axis, in human units
    (`reader.human_value`: a volatility as daily %, annualised in the hover; a VaR in %); one
    point per round (x: observation time, the consumer's `updatedAt`). Each panel's title sits
    above it, horizontal, so a phone shows it whole."""
    rows = max(len(feed.outputs), 1)
    height = TOP + rows * PANEL + (rows - 1) * PANEL_GAP + BOTTOM
    x = [_time(p.observed_at) for p in feed.history]
    data, annotations = [], []
    layout: dict[str, Any] = {
        "height": height,
        "margin": {"l": 50, "r": 32, "t": TOP, "b": BOTTOM},
        "showlegend": False,
        "xaxis": date_axis("observation time (UTC)", [p.observed_at for p in feed.history]),
    }
    plot = height - TOP - BOTTOM
    for j, output in enumerate(feed.outputs):
        axis = "y" if j == 0 else f"y{j + 1}"
        top = 1 - (j * (PANEL + PANEL_GAP)) / plot
        bottom = max(0.0, top - PANEL / plot)
        ys = [p.human[j] if p.human else p.answers[j] for p in feed.history]
        rounds = [p.round_id for p in feed.history]
        title = AXIS_TITLES[output.kind] if output.kind else "<br>".join(wrap(output.name, 40))
        if output.kind == LOG_VOL:
            title += " (hover: annualised)"
            custom: list[Any] = [[r, annualised(y)] for r, y in zip(rounds, ys, strict=True)]
            hover = ("round %{customdata[0]}<br>%{x}<br>%{y:.2f} % daily · "
                     "%{customdata[1]:.1f} % annualised<extra></extra>")  # fmt: skip
        else:
            custom = [[r] for r in rounds]
            hover = "round %{customdata[0]}<br>%{x}<br>%{y:.4g}<extra></extra>"
        data.append({"type": "scatter", "mode": "lines+markers", "name": output.name, "x": x,
                     "y": ys, "customdata": custom, "hovertemplate": hover, "xaxis": "x",
                     "yaxis": axis})  # fmt: skip
        layout["yaxis" if j == 0 else f"yaxis{j + 1}"] = {
            "domain": [bottom, top],
            "automargin": True,
            "ticksuffix": " %" if output.kind else "",
        }
        annotations.append({"text": title, "xref": "paper", "yref": "paper", "x": 0, "y": top,
                            "xanchor": "left", "yanchor": "bottom", "showarrow": False,
                            "font": {"size": 12}})  # fmt: skip
    layout["xaxis"]["anchor"] = "y" if rows == 1 else f"y{rows}"
    layout["annotations"] = annotations
    return {"data": data, "layout": layout}


def feed_charts(snapshot: Snapshot) -> dict[str, Any]:
    """Plotly figures (data + layout) of every feed: its history and, if any, its backtest."""
    charts = {}
    for feed in snapshot.feeds:
        charts[f"chart-{feed.id[2:14]}"] = feed_chart(feed)
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
        "height": 340,
        "margin": {"l": 50, "r": 32, "t": 20, "b": 50},
        "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        # no scored day yet: the dates of the feed's rounds, not an empty axis in 2000
        "xaxis": date_axis("bar close (UTC)", [d.observed_at for d in days or feed.history]),
        "yaxis": {
            "title": {"text": "1-day log return, %", "standoff": 4},
            "zeroline": True,
            "automargin": True,
            "ticksuffix": " %",
        },
        "shapes": [_vertical_line(_time(d.observed_at)) for d in gaps],
    }
    return {"data": data, "layout": layout}


def render_fragment(page: str, snapshot: Snapshot, links: Links) -> str:
    """The page's content (what a refresh swaps in)."""
    if page not in PAGES:
        raise KeyError(page)
    return ENV.get_template(f"_{page}.html").render(
        s=snapshot,
        charts=feed_charts(snapshot) if page == "feeds" else {},
        links=links,
        book=AddressBook.of(snapshot, links),
    )


def render_page(page: str, snapshot: Snapshot | None, *, static: bool, refresh: float,
                error: str | None = None) -> str:  # fmt: skip
    """A whole page; `snapshot` None shows `error` (e.g. the RPC is down) and keeps polling."""
    links = Links(static)
    return ENV.get_template("base.html").render(
        page=page,
        pages=PAGES,
        links=links,
        content=render_fragment(page, snapshot, links) if snapshot is not None else "",
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
                "html": render_fragment(name, snapshot, Links(static=False)),
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
