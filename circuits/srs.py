"""The KZG structured reference string: a local testing-only one, or a ceremony file."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import ezkl

from circuits.errors import SrsError

log = logging.getLogger(__name__)

TESTING_ONLY_NOTICE = (
    "This SRS was generated locally by `ezkl.gen_srs` with known randomness.\n"
    "It is for TESTING ONLY: anyone who knows the toxic waste can forge proofs.\n"
    "Production deployments must pass a ceremony SRS file (e.g. a perpetual\n"
    "powers-of-tau transcript in halo2 KZG format) via --srs.\n"
)


def min_srs_bytes(logrows: int) -> int:
    """Smallest halo2 KZG params file that can serve a circuit of 2**logrows rows.

    The file holds 2**k G1 points in monomial and in Lagrange form (64 bytes each) plus a small
    header and the G2 points, so anything shorter than the G1 part is certainly too small.
    """
    return (2**logrows) * 64 * 2


def prepare_srs(dest: Path, logrows: int, ceremony: Path | None = None) -> Path:
    """Place an SRS for `logrows` at `dest`.

    With `ceremony`, that file is checked for size and copied. Without it, a development SRS is
    generated locally, loudly marked testing-only (a warning and a notice file beside it).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    if ceremony is not None:
        if not ceremony.is_file():
            raise SrsError(f"ceremony SRS file not found: {ceremony}")
        size = ceremony.stat().st_size
        if size < min_srs_bytes(logrows):
            raise SrsError(
                f"ceremony SRS {ceremony} has {size} bytes; a circuit of logrows={logrows} "
                f"needs at least {min_srs_bytes(logrows)}"
            )
        if ceremony.resolve() != dest.resolve():
            shutil.copyfile(ceremony, dest)
        testing_marker(dest).unlink(missing_ok=True)
        log.info("using ceremony SRS %s for logrows=%d", ceremony, logrows)
        return dest

    log.warning(
        "generating a LOCAL SRS (logrows=%d) at %s: FOR TESTING ONLY, not secure for production; "
        "pass a ceremony SRS file with --srs",
        logrows,
        dest,
    )
    if not ezkl.gen_srs(str(dest), logrows) and not dest.is_file():
        raise SrsError(f"ezkl.gen_srs failed to write {dest}")
    testing_marker(dest).write_text(TESTING_ONLY_NOTICE)
    return dest


def testing_marker(srs: Path) -> Path:
    """The notice file that sits beside a locally generated, testing-only SRS."""
    return srs.with_name(srs.name + ".TESTING-ONLY.txt")


def is_testing_srs(srs: Path) -> bool:
    """True when `srs` was generated locally by Proofcast (never to be used in production)."""
    return testing_marker(srs).is_file()
