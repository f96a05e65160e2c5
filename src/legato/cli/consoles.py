"""The console the commands print to."""

from __future__ import annotations

import os

from rich.console import Console, ConsoleDimensions

_UNLIMITED_WIDTH = 1_000_000


class WideConsole(Console):
    """A console that cuts nothing when its output is not a terminal (a pipe, a file):
    rich would fit tables into 80 columns there, wrapping and cutting ids and values.
    ``COLUMNS``, when set, still decides."""

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self._width is None and not self.is_terminal and "COLUMNS" not in os.environ:
            return ConsoleDimensions(_UNLIMITED_WIDTH, size.height)
        return size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size
