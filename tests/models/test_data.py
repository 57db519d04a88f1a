import warnings
from pathlib import Path

import numpy as np
import pytest

from models.data import (
    BUNDLED_SERIES,
    DataGapWarning,
    DataValidationError,
    PriceSeries,
    find_gaps,
    load_bundled,
    load_klines_csv,
    load_ohlc_csv,
)

GOOD_OHLC = """date,open,high,low,close,volume
2024-01-02,100,105,99,104,1000
2024-01-03,104,106,101,102,1100
2024-01-04,102,103,98,99,900
2024-01-05,99,101,97,100,950
"""

DAY_MS = 86_400_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z


def write(tmp_path: Path, text: str, name: str = "prices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def kline(t_ms: int, o: float, h: float, lo: float, c: float, v: float = 10.0) -> str:
    return f"{t_ms},{o},{h},{lo},{c},{v},{t_ms + DAY_MS - 1},1000.0,42,5.0,500.0,0"


# --- bundled ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUNDLED_SERIES)
def test_bundled_series_load_and_are_valid(name: str) -> None:
    s = load_bundled(name)
    assert s.name == name
    assert len(s) > 2000
    assert s.dates.dtype == np.dtype("datetime64[D]")
    assert np.all(np.diff(s.dates).astype(int) > 0)
    assert np.all(np.isfinite(s.close)) and np.all(s.close > 0)
    assert s.has_ohlc == (name != "wti")


def test_bundled_sizes_match_the_sources() -> None:
    assert len(load_bundled("sp500")) == 5031
    wti = load_bundled("wti")
    assert wti.open is None and wti.high is None and wti.volume is None
    assert 8000 < len(wti) < 8611  # FRED's holiday rows without a price are dropped


def test_bundled_stocks_are_split_adjusted() -> None:
    # AAPL split 2:1 on 2005-02-28; unadjusted data shows a -69 % "return" around splits.
    aapl = load_bundled("aapl")
    r = np.diff(np.log(aapl.close))
    day = np.flatnonzero(aapl.dates == np.datetime64("2005-02-28"))[0]
    assert abs(r[day - 1]) < 0.1


def test_unknown_bundled_series() -> None:
    with pytest.raises(KeyError, match="available: sp500"):
        load_bundled("nasdaq")


# --- generic OHLC CSV --------------------------------------------------------------------------


def test_load_ohlc_csv(tmp_path: Path) -> None:
    s = load_ohlc_csv(write(tmp_path, GOOD_OHLC))
    assert s.name == "prices"
    assert s.dates[0] == np.datetime64("2024-01-02") and len(s) == 4
    np.testing.assert_array_equal(s.close, [104, 102, 99, 100])
    np.testing.assert_array_equal(s.volume, [1000, 1100, 900, 950])
    assert s.gaps == ()


def test_load_ohlc_csv_volume_optional_and_columns_any_order(tmp_path: Path) -> None:
    text = "Close,Date,Low,High,Open\n104,2024-01-02,99,105,100\n102,2024-01-03,101,106,104\n"
    s = load_ohlc_csv(write(tmp_path, text))
    assert s.volume is None
    np.testing.assert_array_equal(s.open, [100, 104])


BAD_OHLC_CASES = {
    "missing column": ("date,open,high,close\n2024-01-02,1,2,1.5\n", 1, "missing column.*low"),
    "non-numeric": (
        "date,open,high,low,close\n2024-01-02,1,2,1,1.5\n2024-01-03,1,abc,1,1.5\n",
        3,
        "high is not a number: 'abc'",
    ),
    "empty field": (
        "date,open,high,low,close\n2024-01-02,1,2,1,\n",
        2,
        "close is not a number: ''",
    ),
    "NaN": ("date,open,high,low,close\n2024-01-02,1,2,1,nan\n", 2, "close is NaN"),
    "high below low": (
        "date,open,high,low,close\n2024-01-02,1,2,1,1.5\n2024-01-03,1.5,1.4,1.6,1.5\n",
        3,
        "high < low",
    ),
    "close above high": ("date,open,high,low,close\n2024-01-02,1,2,1,2.5\n", 2, "close outside"),
    "zero price": ("date,open,high,low,close\n2024-01-02,0,2,1,1.5\n", 2, "non-positive open"),
    "negative price": (
        "date,open,high,low,close\n2024-01-02,1,2,1,1.5\n2024-01-03,-1,2,-2,1.5\n",
        3,
        "non-positive open",
    ),
    "negative volume": (
        "date,open,high,low,close,volume\n2024-01-02,1,2,1,1.5,-5\n",
        2,
        "negative volume",
    ),
    "duplicate date": (
        "date,open,high,low,close\n2024-01-02,1,2,1,1.5\n2024-01-03,1,2,1,1.5\n"
        "2024-01-03,1,2,1,1.5\n",
        4,
        "duplicate date 2024-01-03",
    ),
    "unsorted": (
        "date,open,high,low,close\n2024-01-03,1,2,1,1.5\n2024-01-02,1,2,1,1.5\n",
        3,
        "rows must be sorted",
    ),
    "bad date": ("date,open,high,low,close\n01/02/2024,1,2,1,1.5\n", 2, "YYYY-MM-DD"),
    "short row": ("date,open,high,low,close\n2024-01-02,1,2\n", 2, "expected 5 fields"),
}


@pytest.mark.parametrize("case", sorted(BAD_OHLC_CASES))
def test_load_ohlc_csv_rejects_bad_input_naming_file_and_line(tmp_path: Path, case: str) -> None:
    text, line, message = BAD_OHLC_CASES[case]
    path = write(tmp_path, text, "bad.csv")
    with pytest.raises(DataValidationError, match=message) as info:
        load_ohlc_csv(path)
    assert info.value.line == line
    assert str(path) in str(info.value) and f"line {line}" in str(info.value)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match=r"nope\.csv: file not found"):
        load_ohlc_csv(tmp_path / "nope.csv")
    with pytest.raises(DataValidationError, match="file is empty"):
        load_ohlc_csv(write(tmp_path, "\n"))
    with pytest.raises(DataValidationError, match="no data rows"):
        load_ohlc_csv(write(tmp_path, "date,open,high,low,close\n"))


def test_utf8_bom_does_not_break_the_header(tmp_path: Path) -> None:
    """Excel's "CSV UTF-8" starts with a byte-order mark; the first column is still `date`."""
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD_OHLC.encode())
    s = load_ohlc_csv(path)
    assert len(s) == 4 and s.dates[0] == np.datetime64("2024-01-02")
    klines = tmp_path / "bom-klines.csv"
    klines.write_bytes(
        b"\xef\xbb\xbf" + "\n".join(kline(T0 + i * DAY_MS, 1, 2, 1, 1.5) for i in range(3)).encode()
    )
    assert len(load_klines_csv(klines)) == 3


@pytest.mark.parametrize(
    ("encoding", "message"),
    [
        ("utf-16", "UTF-16 encoded: save it as UTF-8"),
        ("utf-16-le", "NUL bytes: UTF-16 without a byte-order mark"),
        ("latin-1", r"not UTF-8 text \(byte 0xe9 at offset 30\)"),
    ],
)
def test_non_utf8_csv_is_one_error_naming_the_file(
    tmp_path: Path, encoding: str, message: str
) -> None:
    path = tmp_path / f"{encoding}.csv"
    text = GOOD_OHLC if encoding != "latin-1" else GOOD_OHLC.replace("volume", "volumé")
    path.write_bytes(text.encode(encoding))
    for load in (load_ohlc_csv, load_klines_csv):
        with pytest.raises(DataValidationError, match=message) as info:
            load(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_unsupported_calendar_is_refused_with_the_supported_ones(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_OHLC)
    with pytest.raises(ValueError, match="'weekly' is not supported: use one of business, daily"):
        load_ohlc_csv(path, calendar="weekly")  # type: ignore[arg-type]


GAPPY = """date,open,high,low,close
2024-01-02,1,2,1,1.5
2024-01-03,1,2,1,1.5
2024-01-04,1,2,1,1.5
2024-01-10,1,2,1,1.8
2024-01-11,1,2,1,1.5
"""


def test_gap_policy_report_warns_and_keeps_gaps(tmp_path: Path) -> None:
    path = write(tmp_path, GAPPY)
    with pytest.warns(DataGapWarning, match=r"line 5: 1 gap\(s\), 3 missing day"):
        s = load_ohlc_csv(path)
    assert len(s) == 5
    (gap,) = s.gaps
    assert (gap.after, gap.before) == (np.datetime64("2024-01-04"), np.datetime64("2024-01-10"))
    assert gap.missing_days == 3 and gap.line == 5  # Fri 5th, Mon 8th, Tue 9th


def test_gap_policy_error(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="line 5: gap in dates"):
        load_ohlc_csv(write(tmp_path, GAPPY), gap_policy="error")


def test_gap_policy_fill_inserts_flat_business_days(tmp_path: Path) -> None:
    s = load_ohlc_csv(write(tmp_path, GAPPY), gap_policy="fill")
    expected = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]
    expected += ["2024-01-09", "2024-01-10", "2024-01-11"]
    np.testing.assert_array_equal(s.dates, np.array(expected, dtype="datetime64[D]"))
    np.testing.assert_array_equal(s.close, [1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.8, 1.5])
    np.testing.assert_array_equal(s.high[3:6], [1.5, 1.5, 1.5])  # flat bars at the last close


def test_single_holiday_and_weekends_are_not_gaps() -> None:
    dates = np.array(["2024-12-20", "2024-12-23", "2024-12-24", "2024-12-26"], "datetime64[D]")
    assert find_gaps(dates, calendar="business", max_missing=1) == []
    assert len(find_gaps(dates, calendar="daily", max_missing=0)) == 2


# --- klines ------------------------------------------------------------------------------------


def test_load_klines_without_header(tmp_path: Path) -> None:
    rows = [kline(T0 + i * DAY_MS, 100 + i, 110 + i, 95 + i, 105 + i) for i in range(4)]
    s = load_klines_csv(write(tmp_path, "\n".join(rows) + "\n", "BTCUSDT-1d.csv"))
    assert s.name == "BTCUSDT-1d"
    assert s.dates[0] == np.datetime64("2024-01-01") and s.dates[-1] == np.datetime64("2024-01-04")
    np.testing.assert_array_equal(s.close, [105, 106, 107, 108])
    np.testing.assert_array_equal(s.volume, [10, 10, 10, 10])


def test_load_klines_with_header_and_microseconds(tmp_path: Path) -> None:
    header = "open_time,open,high,low,close,volume,close_time,quote_volume,count,tbbv,tbqv,ignore"
    rows = [kline((T0 + i * DAY_MS) * 1000, 100, 110, 95, 105) for i in range(3)]
    s = load_klines_csv(write(tmp_path, "\n".join([header, *rows]) + "\n"))
    assert s.dates[0] == np.datetime64("2024-01-01") and len(s) == 3


def test_load_klines_aggregates_intraday_candles_to_days(tmp_path: Path) -> None:
    hour = DAY_MS // 24
    rows = [
        kline(T0, 100, 104, 99, 103, 1),
        kline(T0 + hour, 103, 108, 102, 107, 2),
        kline(T0 + 2 * hour, 107, 107, 97, 98, 3),
        kline(T0 + DAY_MS, 98, 99, 90, 91, 4),
    ]
    s = load_klines_csv(write(tmp_path, "\n".join(rows) + "\n"))
    np.testing.assert_array_equal(s.dates, np.array(["2024-01-01", "2024-01-02"], "datetime64[D]"))
    np.testing.assert_array_equal(s.open, [100, 98])
    np.testing.assert_array_equal(s.high, [108, 99])
    np.testing.assert_array_equal(s.low, [97, 90])
    np.testing.assert_array_equal(s.close, [98, 91])
    np.testing.assert_array_equal(s.volume, [6, 4])


BAD_KLINES = {
    "non-numeric": ([kline(T0, 1, 2, 1, 1.5), f"{T0 + DAY_MS},1,2,x,1.5,1"], 2, "low is not"),
    "NaN": ([kline(T0, 1, 2, 1, 1.5), f"{T0 + DAY_MS},1,2,1,NaN,1"], 2, "close is NaN"),
    "too few fields": ([kline(T0, 1, 2, 1, 1.5), f"{T0 + DAY_MS},1,2,1"], 2, "at least 6"),
    "high below low": ([kline(T0, 1, 2, 1, 1.5), kline(T0 + DAY_MS, 1, 1, 2, 1.5)], 2, "high <"),
    "non-positive": ([kline(T0, 1, 2, 1, 1.5), kline(T0 + DAY_MS, 0, 2, 0, 1.5)], 2, "non-pos"),
    "duplicate": ([kline(T0, 1, 2, 1, 1.5), kline(T0, 1, 2, 1, 1.5)], 2, "duplicate open time"),
    "unsorted": ([kline(T0 + DAY_MS, 1, 2, 1, 1.5), kline(T0, 1, 2, 1, 1.5)], 2, "must be sorted"),
}


@pytest.mark.parametrize("case", sorted(BAD_KLINES))
def test_load_klines_rejects_bad_input(tmp_path: Path, case: str) -> None:
    rows, line, message = BAD_KLINES[case]
    path = write(tmp_path, "\n".join(rows) + "\n", "klines.csv")
    with pytest.raises(DataValidationError, match=message) as info:
        load_klines_csv(path)
    assert info.value.line == line and "klines.csv" in str(info.value)


def test_klines_bad_intraday_candle_names_its_line(tmp_path: Path) -> None:
    hour = DAY_MS // 24
    rows = [kline(T0, 100, 104, 99, 103), kline(T0 + hour, 103, 100, 102, 101)]
    with pytest.raises(DataValidationError, match="line 2: high < low"):
        load_klines_csv(write(tmp_path, "\n".join(rows) + "\n"))


def test_klines_missing_day_is_a_gap(tmp_path: Path) -> None:
    rows = [kline(T0 + i * DAY_MS, 1, 2, 1, 1.5) for i in (0, 1, 3)]
    path = write(tmp_path, "\n".join(rows) + "\n")
    with pytest.raises(DataValidationError, match="line 3: gap in dates"):
        load_klines_csv(path, gap_policy="error")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        filled = load_klines_csv(path, gap_policy="fill")
    assert len(filled) == 4 and filled.volume[2] == 0


# --- the dataclass itself ----------------------------------------------------------------------


def test_price_series_validates_on_construction() -> None:
    d = np.array(["2024-01-02", "2024-01-03"], "datetime64[D]")
    with pytest.raises(DataValidationError, match="mine: close is NaN"):
        PriceSeries("mine", d, None, None, None, np.array([1.0, np.nan]), None)
    with pytest.raises(DataValidationError, match="all be given or all None"):
        PriceSeries("mine", d, np.ones(2), None, None, np.ones(2), None)


def test_price_series_slice() -> None:
    s = load_bundled("sp500").slice(10, 20)
    assert len(s) == 10 and s.open is not None and len(s.open) == 10
