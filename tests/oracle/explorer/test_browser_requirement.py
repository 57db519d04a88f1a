"""Where Chromium is missing the browser tests skip, naming the package; in CI they fail."""

from pathlib import Path

import pytest

from tests.oracle.explorer.conftest import require_browser


def test_missing_chromium_skips_locally_and_fails_in_ci(tmp_path: Path) -> None:
    absent = tmp_path / "chromium"
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        require_browser(absent, ci=False)
    with pytest.raises(pytest.fail.Exception, match="cannot run in CI"):
        require_browser(absent, ci=True)
