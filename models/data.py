"""Daily price series: the bundled real data sets and validated loaders for exchange CSV files.

Every loader returns a `PriceSeries` (dates sorted and unique, prices positive and finite,
low <= open, close <= high) or raises `DataValidationError` naming the file and the line.

Bundled series (offline, shipped inside PyPI wheels):
- ``sp500``: S&P 500 daily OHLC + volume 1999-2018 (``arch.data.sp500``).
- ``wti``: WTI crude daily close 1986-2019 (``arch.data.wti``, FRED); close only, so features
  fall back to the close-to-close estimator. FRED's holiday rows (no price) are dropped.
- ``aapl``, ``ibm``, ``msft``, ``goog``: daily OHLCV 2000-2013 from ``bokeh_sampledata``
  (Quandl WIKI, public domain). The source is unadjusted; OHLC are multiplied by
  adj_close / close so that splits do not show up as crashes.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

GapPolicy = Literal["report", "error", "fill"]
GAP_POLICIES: tuple[str, ...] = ("report", "error", "fill")
# How training loads a provider's file, and what `proofcast data inspect` checks by default, so
# the two agree: a market-closure gap (e.g. 2001-09-10 -> 09-17) is reported, not fatal. The
# oracle node and attesters stay strict ("error"): a filled bar would change what they prove.
TRAINING_GAP_POLICY: GapPolicy = "report"
Calendar = Literal["daily", "business"]
CALENDARS: tuple[str, ...] = ("business", "daily")  # the gap checks `find_gaps` knows

BUNDLED_SERIES: tuple[str, ...] = ("sp500", "wti", "aapl", "ibm", "msft", "goog")

_MS_PER_DAY = 86_400_000


class DataValidationError(ValueError):
    """A price file or series is malformed; the message names the source and the line."""

    def __init__(self, source: str, message: str, line: int | None = None) -> None:
        self.source = source
        self.line = line
        where = f"{source}, line {line}" if line is not None else source
        super().__init__(f"{where}: {message}")


class DataGapWarning(UserWarning):
    """Missing days in a price series (raised as a warning under ``gap_policy="report"``)."""


@dataclass(frozen=True)
class Gap:
    """Expected trading days missing between two consecutive rows."""

    after: np.datetime64  # last date present before the gap
    before: np.datetime64  # first date present after the gap
    missing_days: int  # expected days (per the calendar) that are absent
    line: int | None = None  # file line of the row after the gap, when loaded from a file


@dataclass(frozen=True)
class PriceSeries:
    """One instrument's daily bars. ``open``/``high``/``low`` are None for close-only series."""

    name: str
    dates: np.ndarray  # datetime64[D], sorted, unique
    open: np.ndarray | None
    high: np.ndarray | None
    low: np.ndarray | None
    close: np.ndarray
    volume: np.ndarray | None
    gaps: tuple[Gap, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        validate_series(self)

    def __len__(self) -> int:
        return len(self.close)

    @property
    def has_ohlc(self) -> bool:
        """True when open, high and low are available (range-based estimators apply)."""
        return self.open is not None and self.high is not None and self.low is not None

    def slice(self, start: int | None = None, stop: int | None = None) -> PriceSeries:
        """Rows [start, stop) as a new series (same name)."""
        s = slice(start, stop)

        def cut(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[s]

        return replace(
            self,
            dates=self.dates[s],
            open=cut(self.open),
            high=cut(self.high),
            low=cut(self.low),
            close=self.close[s],
            volume=cut(self.volume),
            gaps=(),
        )


def validate_series(series: PriceSeries, lines: Sequence[int] | None = None) -> None:
    """Check a series' invariants; raise `DataValidationError` at the first offending row.

    `lines` maps row index to file line, so errors can name the line of the source file.
    """
    ohlc = (series.open, series.high, series.low)
    if any(a is None for a in ohlc) and not all(a is None for a in ohlc):
        raise DataValidationError(series.name, "open, high and low must all be given or all None")
    columns = {"open": series.open, "high": series.high, "low": series.low}
    columns |= {"close": series.close, "volume": series.volume}
    check_bars(series.name, series.dates, columns, lines)


def check_bars(
    source: str,
    dates: np.ndarray,
    columns: dict[str, np.ndarray | None],
    lines: Sequence[int] | None = None,
) -> None:
    """Validate bar arrays (finite, positive prices, sorted unique dates, low <= o, c <= high)."""

    def line_of(i: int) -> int | None:
        return None if lines is None else int(lines[i])

    n = len(columns["close"])
    if dates.dtype != np.dtype("datetime64[D]") or dates.shape != (n,):
        raise DataValidationError(
            source, f"dates must be datetime64[D] of length {n}, got {dates.dtype} {dates.shape}"
        )
    for col, values in columns.items():
        if values is None:
            continue
        if values.shape != (n,):
            raise DataValidationError(source, f"column {col} has shape {values.shape}, not ({n},)")
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise DataValidationError(source, f"{col} is NaN or infinite", line_of(bad[0]))
        kind, limit = ("negative", values < 0) if col == "volume" else ("non-positive", values <= 0)
        bad = np.flatnonzero(limit)
        if bad.size:
            raise DataValidationError(source, f"{kind} {col} {values[bad[0]]}", line_of(bad[0]))
    step = np.diff(dates).astype(np.int64)
    bad = np.flatnonzero(step == 0)
    if bad.size:
        i = bad[0] + 1
        raise DataValidationError(source, f"duplicate date {dates[i]}", line_of(i))
    bad = np.flatnonzero(step < 0)
    if bad.size:
        i = bad[0] + 1
        msg = f"date {dates[i]} comes after {dates[i - 1]}: rows must be sorted by date"
        raise DataValidationError(source, msg, line_of(i))
    o, h, lo, c = (columns.get(k) for k in ("open", "high", "low", "close"))
    if o is None or h is None or lo is None:
        return
    for label, bad_mask in (
        ("high < low", h < lo),
        ("open outside [low, high]", (o < lo) | (o > h)),
        ("close outside [low, high]", (c < lo) | (c > h)),
    ):
        bad = np.flatnonzero(bad_mask)
        if bad.size:
            i = bad[0]
            msg = f"{label} (open={o[i]}, high={h[i]}, low={lo[i]}, close={c[i]})"
            raise DataValidationError(source, msg, line_of(i))


# --- bundled data -------------------------------------------------------------------------------


def load_bundled(name: str) -> PriceSeries:
    """Load one of `BUNDLED_SERIES` from the installed `arch` / `bokeh_sampledata` wheels."""
    key = name.lower()
    if key == "sp500":
        from arch.data import sp500

        df = sp500.load()
        return PriceSeries(
            name="sp500",
            dates=_to_days(df.index.values),
            open=df["Open"].to_numpy(float),
            high=df["High"].to_numpy(float),
            low=df["Low"].to_numpy(float),
            close=df["Close"].to_numpy(float),
            volume=df["Volume"].to_numpy(float),
        )
    if key == "wti":
        from arch.data import wti

        df = wti.load().dropna()  # FRED lists holidays with no price
        return PriceSeries(
            name="wti",
            dates=_to_days(df.index.values),
            open=None,
            high=None,
            low=None,
            close=df["DCOILWTICO"].to_numpy(float),
            volume=None,
        )
    if key in ("aapl", "ibm", "msft", "goog"):
        from bokeh_sampledata import stocks

        raw = getattr(stocks, key.upper())
        close = np.asarray(raw["close"], float)
        factor = np.asarray(raw["adj_close"], float) / close  # split and dividend adjustment
        return PriceSeries(
            name=key,
            dates=np.asarray(raw["date"], dtype="datetime64[D]"),
            open=np.asarray(raw["open"], float) * factor,
            high=np.asarray(raw["high"], float) * factor,
            low=np.asarray(raw["low"], float) * factor,
            close=close * factor,
            volume=np.asarray(raw["volume"], float),
        )
    raise KeyError(f"unknown bundled series {name!r}; available: {', '.join(BUNDLED_SERIES)}")


def _to_days(values: np.ndarray) -> np.ndarray:
    return np.asarray(values).astype("datetime64[D]")


# --- CSV loaders --------------------------------------------------------------------------------

_OHLC_REQUIRED = ("date", "open", "high", "low", "close")

# Binance-style kline columns; only the first six are used.
KLINE_COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "trades",
    "taker_buy_base",
    "taker_buy_quote",
    "ignore",
)


def load_ohlc_csv(
    path: str | Path,
    *,
    name: str | None = None,
    gap_policy: GapPolicy = "report",
    calendar: Calendar = "business",
    max_missing: int = 1,
) -> PriceSeries:
    """Load a generic ``date,open,high,low,close[,volume]`` CSV (header required, any order).

    Dates are ISO ``YYYY-MM-DD`` (a time part after the date is ignored). Gaps are runs of more
    than `max_missing` consecutive expected days absent (`calendar` "business" = Mon-Fri, so a
    single exchange holiday is not a gap; "daily" = every calendar day); see `apply_gap_policy`.
    """
    path = Path(path)
    calendar = check_calendar(calendar)
    rows = _read_rows(path)
    if not rows:
        raise DataValidationError(str(path), "file is empty")
    header_line, header = rows[0]
    cols = [c.strip().lower() for c in header]
    missing = [c for c in _OHLC_REQUIRED if c not in cols]
    if missing:
        raise DataValidationError(
            str(path), f"missing column(s) {', '.join(missing)} (header: {header})", header_line
        )
    idx = {c: cols.index(c) for c in (*_OHLC_REQUIRED, "volume") if c in cols}
    body = rows[1:]
    if not body:
        raise DataValidationError(str(path), "no data rows after the header")
    dates, lines = [], []
    values: dict[str, list[float]] = {c: [] for c in idx if c != "date"}
    for line, row in body:
        if len(row) < len(cols):
            raise DataValidationError(
                str(path), f"expected {len(cols)} fields, got {len(row)}", line
            )
        dates.append(_parse_date(row[idx["date"]], path, line))
        for col in values:
            values[col].append(_parse_float(row[idx[col]], col, path, line))
        lines.append(line)
    return _build(path, name, dates, values, lines, gap_policy, calendar, max_missing)


def load_klines_csv(
    path: str | Path,
    *,
    name: str | None = None,
    gap_policy: GapPolicy = "report",
) -> PriceSeries:
    """Load an exchange kline/candle CSV (Binance layout, `KLINE_COLUMNS`), with or without header.

    Open times are epoch milliseconds (microseconds, as Binance uses from 2025, are detected by
    magnitude). Intraday candles are aggregated to daily bars (UTC): first open, max high, min
    low, last close, summed volume. Crypto trades every day, so any missing calendar day is a gap.
    """
    path = Path(path)
    rows = _read_rows(path)
    if rows and not _is_number(rows[0][1][0]):
        rows = rows[1:]  # header row
    if not rows:
        raise DataValidationError(str(path), "no kline rows")
    times, lines = [], []
    fields = ("open", "high", "low", "close", "volume")
    values: dict[str, list[float]] = {c: [] for c in fields}
    for line, row in rows:
        if len(row) < 6:
            raise DataValidationError(
                str(path),
                f"kline row needs at least 6 fields (open time..volume), got {len(row)}",
                line,
            )
        stamp = _parse_float(row[0], "open_time", path, line)
        times.append(int(stamp))
        for j, col in enumerate(fields, start=1):
            values[col].append(_parse_float(row[j], col, path, line))
        lines.append(line)
    t = np.asarray(times, dtype=np.int64)
    ms = np.where(t > 10**14, t // 1000, t)  # microsecond stamps -> milliseconds
    step = np.diff(ms)
    bad = np.flatnonzero(step == 0)
    if bad.size:
        raise DataValidationError(
            str(path), f"duplicate open time {t[bad[0] + 1]}", lines[bad[0] + 1]
        )
    bad = np.flatnonzero(step < 0)
    if bad.size:
        raise DataValidationError(
            str(path),
            f"open time {t[bad[0] + 1]} is before the previous row: rows must be sorted",
            lines[bad[0] + 1],
        )
    arr = {c: np.asarray(v, float) for c, v in values.items()}
    for col in fields:
        bad = np.flatnonzero(~np.isfinite(arr[col]))
        if bad.size:
            raise DataValidationError(str(path), f"{col} is NaN or infinite", lines[bad[0]])
    day = ms // _MS_PER_DAY
    dates = day.astype("datetime64[D]")
    if np.any(np.diff(day) == 0):  # intraday candles: validate each, then aggregate per UTC day
        check_bars(str(path), np.arange(len(day)).astype("datetime64[D]"), arr, lines)
        starts = np.flatnonzero(np.r_[True, np.diff(day) != 0])
        ends = np.r_[starts[1:], len(day)]
        arr = {
            "open": arr["open"][starts],
            "high": np.maximum.reduceat(arr["high"], starts),
            "low": np.minimum.reduceat(arr["low"], starts),
            "close": arr["close"][ends - 1],
            "volume": np.add.reduceat(arr["volume"], starts),
        }
        dates, lines = dates[starts], [lines[i] for i in starts]
    return _build(path, name, list(dates), arr, lines, gap_policy, "daily", 0)


def _build(
    path: Path,
    name: str | None,
    dates: list,
    values: dict,
    lines: list[int],
    gap_policy: GapPolicy,
    calendar: Calendar,
    max_missing: int,
) -> PriceSeries:
    arr = {c: np.asarray(v, float) for c, v in values.items()}
    d = np.asarray(dates, dtype="datetime64[D]")
    label = name or path.stem
    columns = {c: arr.get(c) for c in ("open", "high", "low", "close", "volume")}
    check_bars(str(path), d, columns, lines)  # errors name the file and line
    gaps = find_gaps(d, calendar=calendar, max_missing=max_missing, lines=lines)
    series = PriceSeries(name=label, dates=d, **columns, gaps=tuple(gaps))
    return apply_gap_policy(series, gap_policy, source=str(path), calendar=calendar)


def find_gaps(
    dates: np.ndarray,
    *,
    calendar: Calendar = "business",
    max_missing: int = 1,
    lines: Sequence[int] | None = None,
) -> list[Gap]:
    """Runs of more than `max_missing` consecutive expected days absent from sorted `dates`."""
    d = np.asarray(dates, dtype="datetime64[D]")
    if len(d) < 2:
        return []
    if calendar == "business":
        expected = np.busday_count(d[:-1] + 1, d[1:])  # weekdays strictly between neighbours
    else:
        expected = np.diff(d).astype(np.int64) - 1
    gaps = []
    for i in np.flatnonzero(expected > max_missing):
        line = None if lines is None else int(lines[i + 1])
        gaps.append(Gap(after=d[i], before=d[i + 1], missing_days=int(expected[i]), line=line))
    return gaps


def apply_gap_policy(
    series: PriceSeries, policy: GapPolicy, *, source: str, calendar: Calendar = "daily"
) -> PriceSeries:
    """Handle `series.gaps`: "report" warns (`DataGapWarning`) and keeps them on the series;
    "error" raises `DataValidationError` at the first gap; "fill" inserts flat bars at the
    previous close (volume 0) on every missing expected day."""
    if not series.gaps:
        return series
    first = series.gaps[0]
    summary = (
        f"{len(series.gaps)} gap(s), {sum(g.missing_days for g in series.gaps)} missing day(s); "
        f"first: {first.missing_days} day(s) between {first.after} and {first.before}"
    )
    if policy == "error":
        raise DataValidationError(source, f"gap in dates: {summary}", first.line)
    if policy == "report":
        where = f"{source}, line {first.line}" if first.line is not None else source
        warnings.warn(f"{where}: {summary}", DataGapWarning, stacklevel=3)
        return series
    if policy != "fill":
        raise ValueError(f"unknown gap policy {policy!r}: use one of {', '.join(GAP_POLICIES)}")
    return _fill_gaps(series, calendar)


def _fill_gaps(series: PriceSeries, calendar: Calendar) -> PriceSeries:
    new_dates, src_row = [], []
    gap_after = {g.after for g in series.gaps}
    for i, day in enumerate(series.dates):
        new_dates.append(day)
        src_row.append((i, False))
        if day in gap_after and i + 1 < len(series.dates):
            fill = np.arange(day + 1, series.dates[i + 1], dtype="datetime64[D]")
            if calendar == "business":
                fill = fill[np.is_busday(fill)]
            for f in fill:
                new_dates.append(f)
                src_row.append((i, True))
    rows = np.array([r for r, _ in src_row])
    filled = np.array([f for _, f in src_row])
    close = series.close[rows]

    def col(a: np.ndarray | None, flat_value: np.ndarray) -> np.ndarray | None:
        return None if a is None else np.where(filled, flat_value, a[rows])

    return replace(
        series,
        dates=np.asarray(new_dates, dtype="datetime64[D]"),
        open=col(series.open, close),
        high=col(series.high, close),
        low=col(series.low, close),
        close=close,
        volume=col(series.volume, np.zeros_like(close)),
    )


def check_calendar(calendar: str) -> Calendar:
    """`calendar` if it is one of CALENDARS, else ValueError listing the supported ones."""
    if calendar not in CALENDARS:
        raise ValueError(
            f"calendar {calendar!r} is not supported: use one of {', '.join(CALENDARS)}"
        )
    return calendar  # type: ignore[return-value]


def read_csv_text(path: str | Path) -> str:
    """The text of a CSV file: UTF-8, with or without a byte-order mark (Excel writes one).

    UTF-16 (Excel's "Unicode text") and other non-UTF-8 files raise `DataValidationError`
    naming the file and the first undecodable byte, never a UnicodeDecodeError."""
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(str(path), "file not found")
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataValidationError(str(path), "file is UTF-16 encoded: save it as UTF-8 CSV")
    if b"\x00" in raw:  # UTF-16 without a byte-order mark, or not text at all
        line = raw.count(b"\n", 0, raw.index(b"\x00")) + 1
        raise DataValidationError(
            str(path), "NUL bytes: UTF-16 without a byte-order mark or binary, not UTF-8 CSV", line
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataValidationError(
            str(path),
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}): "
            "save it as UTF-8 CSV",
            line,
        ) from None


def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """Non-blank CSV rows with their 1-based file line numbers."""
    rows = csv.reader(io.StringIO(read_csv_text(path), newline=""))
    return [(i, row) for i, row in enumerate(rows, start=1) if any(c.strip() for c in row)]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_float(text: str, col: str, path: Path, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataValidationError(str(path), f"{col} is not a number: {text!r}", line) from None
    if not np.isfinite(value):
        raise DataValidationError(str(path), f"{col} is NaN or infinite: {text!r}", line)
    return value


def _parse_date(text: str, path: Path, line: int) -> np.datetime64:
    try:
        return np.datetime64(text.strip()[:10], "D")
    except ValueError:
        raise DataValidationError(str(path), f"date is not YYYY-MM-DD: {text!r}", line) from None
