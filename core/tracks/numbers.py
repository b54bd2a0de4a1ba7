"""Numbers as text, as ``prelabel.geometry.scale`` writes them: rounded to 3 decimals like
Python's ``round`` (ambiguous halves settled by Python itself), integral values as ints."""

from __future__ import annotations

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
    past 2**52), where the decimal of ``round`` itself is read exactly.
    """
    factor = 10.0**decimals
    x = values * factor
    out = np.floor(x + 0.5)
    frac = x - np.floor(x)
    with np.errstate(invalid="ignore"):
        near = np.flatnonzero(
            (np.abs(frac - 0.5) <= 4 * np.spacing(np.abs(x))) | ~(np.abs(x) < 2.0**52)
        )
    result: IntArray = out.astype(np.int64)
    for r in near.tolist():
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


def _suffixes(decimals: int) -> pl.Series:
    """``""`` / ``".5"`` / ``".125"``: the fraction text of each value of ``m % 10**decimals``."""
    unit = 10**decimals
    return pl.Series(
        [""] + [("." + str(k).zfill(decimals)).rstrip("0") for k in range(1, unit)],
        dtype=pl.String,
    )


def number_columns(
    columns: dict[str, FloatArray], decimals: int = 3, *, as_float: bool = False
) -> pl.DataFrame:
    """Numbers as the writers write them, one text column per input:
    ``prelabel.geometry.scale`` (3 decimals, integral values as ints), or with ``as_float``
    as orjson writes ``round(v, decimals)`` (``2.0``).

    ``m / 10**decimals`` of the exact scaled integer ``m`` is the very float ``round``
    returns (both are the correctly rounded decimal), and polars writes a float as orjson
    does (shortest round-trip text), so one cast makes the text; only integral values lose
    their ``.0`` for the writers' ints. Magnitudes past 2**53 (where ints and exponents part
    ways) take the digit path.
    """
    unit = 10**decimals
    ints = {k: scaled(v, decimals) for k, v in columns.items()}
    if all(not len(m) or int(np.abs(m).max()) < 2**53 for m in ints.values()):
        frame = pl.DataFrame({k: m / unit for k, m in ints.items()})
        text = pl.all().cast(pl.String)
        return frame.select(text if as_float else text.str.strip_suffix(".0"))
    return _digit_columns(ints, decimals, as_float)


def _digit_columns(ints: dict[str, IntArray], decimals: int, as_float: bool) -> pl.DataFrame:
    """:func:`number_columns` from the scaled integers' digits (any magnitude)."""
    unit = 10**decimals
    if as_float or decimals > 3:
        frame = pl.DataFrame(ints)
        return frame.select([_text_expr(k, unit, decimals, as_float) for k in ints])
    suffixes = _suffixes(decimals)
    out = {}
    for name, m in ints.items():
        a = np.abs(m)
        parts = pl.DataFrame({"w": a // unit, "f": suffixes.gather(a % unit)})
        if (m < 0).any():
            parts = parts.with_columns(n=pl.Series(m < 0))
            sign = pl.when(pl.col("n")).then(pl.lit("-")).otherwise(pl.lit(""))
            text = pl.concat_str([sign, pl.col("w").cast(pl.String), pl.col("f")])
        else:
            text = pl.concat_str([pl.col("w").cast(pl.String), pl.col("f")])
        out[name] = parts.select(text).to_series()
    return pl.DataFrame(out)


def number_text(values: FloatArray, decimals: int = 3, *, as_float: bool = False) -> pl.Series:
    """:func:`number_columns` of one column."""
    return number_columns({"t": values}, decimals, as_float=as_float).to_series()
