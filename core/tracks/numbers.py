"""Numbers as text, as ``prelabel.geometry.scale`` writes them: rounded to 3 decimals like
Python's ``round`` (ambiguous halves settled by Python itself), integral values as ints."""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import polars as pl

if TYPE_CHECKING:
    pass

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


# --- numbers as text ----------------------------------------------------------------------


def scaled(values: FloatArray, decimals: int = 3) -> IntArray:
    """``round(v, decimals) * 10**decimals`` as exact integers, as Python's ``round`` rounds.

    ``floor(x + 0.5)`` of the scaled float decides, except within a few ulps of a half (or
    past 2**52), where the decimal of ``round`` itself is read exactly. (In place on a few
    temporaries: a million values are written per hypothesis column.)
    """
    x = values * (10.0**decimals)
    out = np.floor(x)
    frac = x - out  # in [0, 1)
    np.abs(x, out=x)
    x *= 1e-15  # a little over 4 ulps of |x|: the tie tolerance
    with np.errstate(invalid="ignore"):
        out += frac >= 0.5
        frac -= 0.5
        np.abs(frac, out=frac)
        near = frac <= x
        near |= ~(x < 2.0**52 * 1e-15)
    result: IntArray = out.astype(np.int64)
    for r in np.flatnonzero(near).tolist():
        exact = Decimal(repr(round(float(values[r]), decimals))) * (10**decimals)
        result[r] = int(exact.to_integral_value())
    return result


def _text_expr(name: str, unit: int, decimals: int, as_float: bool) -> pl.Expr:
    m = pl.col(name)
    a = m.abs()
    sign = pl.when(m < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    whole = (a // unit).cast(pl.String)
    frac = (a % unit).cast(pl.String).str.zfill(decimals)
    text = pl.concat_str([sign, whole, pl.lit("."), frac]).str.strip_chars_end("0")
    if as_float:
        return text.str.replace(r"\.$", ".0").alias(name)
    return text.str.strip_chars_end(".").alias(name)


@functools.lru_cache(maxsize=4)
def _suffixes(decimals: int) -> pl.Series:
    """``""`` / ``".5"`` / ``".125"``: the fraction text of each value of ``m % 10**decimals``."""
    unit = 10**decimals
    return pl.Series(
        [""] + [("." + str(k).zfill(decimals)).rstrip("0") for k in range(1, unit)],
        dtype=pl.String,
    )


def digit_text(name: str, negative: bool = True) -> pl.Expr:
    """The text of column ``name`` holding ``round(v, 3) * 1000`` as integers (:func:`scaled`)
    as ``prelabel.geometry.scale`` writes ``v``: its whole part, then its fraction from a
    table of the 1000 fraction texts (``negative``: the column may hold values below 0)."""
    m = pl.col(name)
    a = m.abs() if negative else m
    text = pl.concat_str([(a // 1000).cast(pl.String), pl.lit(_suffixes(3)).gather(a % 1000)])
    if not negative:
        return text
    return pl.concat_str([pl.when(m < 0).then(pl.lit("-")).otherwise(pl.lit("")), text])


def number_frame(columns: dict[str, FloatArray]) -> tuple[pl.DataFrame, dict[str, pl.Expr]]:
    """The columns as scaled integers (:func:`scaled`, 3 decimals), and each one's text as an
    expression over that frame (:func:`digit_text`), to put into a larger concatenation.

    The digits of the exact scaled integer are the text ``round`` and then ``json.dumps``
    give: the correctly rounded decimal has at most 3 fraction digits, which is also the
    shortest text of the float ``round`` returns; integral values are written as ints.
    """
    ints = {k: scaled(v) for k, v in columns.items()}
    exprs = {k: digit_text(k, bool((m < 0).any())) for k, m in ints.items()}
    return pl.DataFrame(ints), exprs


def number_columns(
    columns: dict[str, FloatArray], decimals: int = 3, *, as_float: bool = False
) -> pl.DataFrame:
    """Numbers as the writers write them, one text column per input:
    ``prelabel.geometry.scale`` (3 decimals, integral values as ints, :func:`number_frame`),
    or with ``as_float`` as orjson writes ``round(v, decimals)`` (``2.0``).

    For ``as_float``, ``m / 10**decimals`` of the exact scaled integer ``m`` is the very
    float ``round`` returns (both are the correctly rounded decimal), and polars writes a
    float as orjson does (shortest round-trip text), so one cast makes the text.
    Magnitudes past 2**53 (where ints and exponents part ways) take the digit path.
    """
    if not as_float and decimals == 3:
        frame, exprs = number_frame(columns)
        return frame.select(**exprs)
    unit = 10**decimals
    ints = {k: scaled(v, decimals) for k, v in columns.items()}
    if all(not len(m) or int(np.abs(m).max()) < 2**53 for m in ints.values()):
        frame = pl.DataFrame({k: m / unit for k, m in ints.items()})
        text = pl.all().cast(pl.String)
        return frame.select(text if as_float else text.str.strip_suffix(".0"))
    return pl.DataFrame(ints).select([_text_expr(k, unit, decimals, as_float) for k in ints])


def number_text(values: FloatArray, decimals: int = 3, *, as_float: bool = False) -> pl.Series:
    """:func:`number_columns` of one column."""
    return number_columns({"t": values}, decimals, as_float=as_float).to_series()
