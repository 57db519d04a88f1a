"""Where the node reads market data: pluggable, a directory of growing CSV files for now.

Features come from `models.features.latest_features`, the same function training uses; the node
never computes features itself. Bad data (NaN, gaps, out-of-order candles: whatever the shared
loader rejects) raises SourceError naming the feed and file, and the runner skips that round.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from oracle.node.config import FeedConfig
from oracle.node.errors import SourceError


@dataclass(frozen=True)
class Observation:
    """The latest features of one feed, the bars they are computed from (what attesters
    check) and the close time of the last bar."""

    feed: str
    observed_at: int  # unix seconds at which the latest candle closed
    features: np.ndarray  # shape [F]
    bars: Any = None  # models.data.PriceSeries: the last HISTORY_BARS bars (all of a young feed)


class MarketSource(Protocol):
    """Anything that can produce the latest observation of a feed."""

    def observe(self, feed: FeedConfig) -> Observation:
        """Latest observation of `feed`; raises SourceError on missing or invalid data."""


@dataclass(frozen=True)
class FeaturePipeline:
    """The shared data -> features functions (models.data / models.features)."""

    load: Callable[[Path], Any]
    features: Callable[[Any], np.ndarray]
    last_time: Callable[[Any], int]
    errors: tuple[type[Exception], ...]
    history: int = 0  # bars the features need (the proposal to attesters carries them)
    plausible: Callable[[Any, float], Any] | None = None  # -> a refusal or None


def shared_pipeline(calendar: str = "business") -> FeaturePipeline:
    """The loader and feature function training uses (models.data, models.features).

    Gaps are errors here (training may only report them): a forecast is never proved on a
    series with missing days.
    """
    from models.data import DataValidationError, load_ohlc_csv
    from models.features import HISTORY_BARS, InsufficientHistoryError, latest_features
    from models.plausibility import BARS_NEEDED, implausible_move
    from oracle.attest.report import close_time

    def load(path: Path) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_ohlc_csv(path, gap_policy="error", calendar=calendar)  # type: ignore[arg-type]

    return FeaturePipeline(
        load=load,
        features=latest_features,
        last_time=close_time,
        errors=(DataValidationError, InsufficientHistoryError, OSError, ValueError),
        history=max(HISTORY_BARS, BARS_NEEDED),
        plausible=implausible_move,
    )


class CsvDirectorySource:
    """One CSV file per feed in `directory`, re-read each time (files grow as candles close)."""

    def __init__(
        self, directory: Path, pipeline: FeaturePipeline | None = None, calendar: str = "business"
    ) -> None:
        self.directory = Path(directory)
        self.pipeline = pipeline or shared_pipeline(calendar)

    def path(self, feed: FeedConfig) -> Path:
        return self.directory / feed.file

    def check(self, feed: FeedConfig) -> None:
        """SourceError naming the feed and file unless `feed`'s file exists and loads (valid
        bars, no gaps): what a server checks once at startup rather than on every request."""
        path = self.path(feed)
        if not path.is_file():
            raise SourceError(f"feed {feed.name}: market-data file {path} does not exist")
        try:
            self.pipeline.load(path)
        except self.pipeline.errors as exc:
            raise SourceError(f"feed {feed.name}: {exc}") from None

    def observe(self, feed: FeedConfig) -> Observation:
        path = self.path(feed)
        if not path.is_file():
            raise SourceError(f"feed {feed.name}: market-data file {path} does not exist")
        try:
            series = self.pipeline.load(path)
            features = np.asarray(self.pipeline.features(series), dtype=np.float64)
            observed_at = self.pipeline.last_time(series)
            refusal = (
                self.pipeline.plausible(series, feed.max_move_sigmas)
                if self.pipeline.plausible is not None
                else None
            )
        except self.pipeline.errors as exc:
            raise SourceError(f"feed {feed.name}: {path}: {exc}") from exc
        if refusal is not None:
            raise SourceError(f"feed {feed.name}: {path}: implausible {refusal}")
        if features.ndim != 1 or not np.all(np.isfinite(features)):
            raise SourceError(
                f"feed {feed.name}: {path}: latest features are not a finite vector "
                f"(shape {features.shape}); refusing to prove them"
            )
        history = self.pipeline.history
        bars = series.slice(max(0, len(series) - history)) if history else None
        return Observation(feed.name, observed_at, features, bars)
