"""The CSV-directory source: the shared loader and feature function, bad data refused."""

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from models.data import load_ohlc_csv
from models.features import latest_features
from oracle.node.config import FeedConfig
from oracle.node.errors import SourceError
from oracle.node.sources import CsvDirectorySource
from tests.oracle.node.market import append_candle, write_candles

END = dt.date(2026, 3, 10)
FEED = FeedConfig(name="ETH-USD", file="eth.csv")


@pytest.fixture
def source(tmp_path: Path) -> CsvDirectorySource:
    write_candles(tmp_path / "eth.csv", END)
    return CsvDirectorySource(tmp_path, calendar="daily")


def test_features_are_the_training_features(source: CsvDirectorySource) -> None:
    obs = source.observe(FEED)
    expected = latest_features(load_ohlc_csv(source.path(FEED), calendar="daily"))
    np.testing.assert_array_equal(obs.features, expected)
    # observedAt: the last daily bar closes at the next midnight UTC
    assert obs.observed_at == int(dt.datetime(2026, 3, 11, tzinfo=dt.UTC).timestamp())


def test_growing_file_gives_a_newer_observation(source: CsvDirectorySource) -> None:
    first = source.observe(FEED)
    append_candle(source.path(FEED), seed=5)
    second = source.observe(FEED)
    assert second.observed_at == first.observed_at + 86_400
    assert not np.array_equal(first.features, second.features)


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ("2026-03-11,100,101,99,nan,1000\n", "line 42"),  # NaN close
        ("2026-03-05,100,101,99,100,1000\n", "line 42"),  # out of order
        ("2026-03-20,100,101,99,100,1000\n", "gap"),  # nine missing days
        ("2026-03-11,100,101\n", "line 42"),  # truncated row
    ],
)
def test_bad_rows_are_refused_naming_feed_and_file(
    source: CsvDirectorySource, row: str, match: str
) -> None:
    append_candle(source.path(FEED), seed=0, row=row)
    with pytest.raises(SourceError, match=match) as info:
        source.observe(FEED)
    assert "ETH-USD" in str(info.value) and "eth.csv" in str(info.value)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        CsvDirectorySource(tmp_path).observe(FEED)
