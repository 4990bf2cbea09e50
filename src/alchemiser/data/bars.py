"""One symbol's daily bars as numpy columns: what deciding reads, so `signal` never waits for pandas.

Importing pandas costs about half a second, half of `signal`'s one-second budget, and deciding needs
nothing of it: session dates (`datetime64[D]`) and five float columns are enough to align, validate and
compute indicators. Sources hand out `DailyBars`; the DataFrame form (`frame()`) is built on demand for
the commands that show, export or merge bars.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas as pd

BAR_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")

DayArray = npt.NDArray[np.datetime64]


def day(d: dt.date) -> np.datetime64:
    """A date as the `datetime64[D]` the arrays hold (a datetime counts by its date)."""
    if isinstance(d, dt.datetime):
        d = d.date()
    return np.datetime64(d, "D")


def as_date(value: np.datetime64) -> dt.date:
    """A `datetime64` day back as a `datetime.date`."""
    out = value.astype("datetime64[D]").item()
    assert isinstance(out, dt.date)
    return out


@dataclass(frozen=True)
class DailyBars:
    """Bars on ascending, unique session dates; `values` columns are `BAR_COLUMNS`, in that order."""

    days: DayArray  # datetime64[D]
    values: npt.NDArray[np.float64]  # shape (len(days), 5)

    def __len__(self) -> int:
        return len(self.days)

    @property
    def empty(self) -> bool:
        return len(self.days) == 0

    @property
    def first(self) -> dt.date:
        return as_date(self.days[0])

    @property
    def last(self) -> dt.date:
        return as_date(self.days[-1])

    def column(self, name: str) -> npt.NDArray[np.float64]:
        return self.values[:, BAR_COLUMNS.index(name)]

    @property
    def open(self) -> npt.NDArray[np.float64]:
        return self.column("open")

    @property
    def close(self) -> npt.NDArray[np.float64]:
        return self.column("close")

    def clip(self, start: dt.date | None = None, end: dt.date | None = None) -> DailyBars:
        """The bars in [start, end] inclusive, as views (nothing is copied)."""
        lo = int(np.searchsorted(self.days, day(start), side="left")) if start is not None else 0
        hi = int(np.searchsorted(self.days, day(end), side="right")) if end is not None else len(self.days)
        return DailyBars(self.days[lo:hi], self.values[lo:hi])

    def frame(self) -> pd.DataFrame:
        """The bars as the DataFrame `MarketData.bars` documents (a new frame the caller may modify)."""
        import pandas as pd

        index = pd.DatetimeIndex(self.days.astype("datetime64[ns]"), name="date")
        return pd.DataFrame(self.values.copy(), index=index, columns=list(BAR_COLUMNS))

    @classmethod
    def of_frame(cls, frame: pd.DataFrame) -> DailyBars:
        """A canonical bar frame (see `store.clean_frame`) as numpy columns."""
        import pandas as pd

        index = pd.DatetimeIndex(frame.index)
        if index.tz is not None:
            index = index.tz_localize(None)
        days = index.to_numpy().astype("datetime64[D]")
        values = np.array(frame.loc[:, list(BAR_COLUMNS)].to_numpy(dtype=np.float64))
        values.flags.writeable = False  # sources cache and share these; `frame()` gives a copy to edit
        return cls(days, values)
