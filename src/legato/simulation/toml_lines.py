"""Line numbers of a TOML document's keys (``tomllib`` gives none once it has parsed).

A light scan of the text, enough to name the line of a scenario mistake: table headers
(``[tasks.review]``), ``key = value`` lines below them and dotted keys. Keys inside an inline
table (``{ mean = "PT1H" }``) are given the line of the key that holds the table.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*\[\[?\s*([^\[\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"^\s*((?:[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*'))*)\s*="
)
_PART = re.compile(r"[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*'")

Path = tuple[str, ...]


def _parts(dotted: str) -> Path:
    return tuple(part.strip("\"'") for part in _PART.findall(dotted))


class KeyLines:
    """Where each key of a TOML text is, by its path (``("tasks", "review", "pool")``)."""

    def __init__(self, text: str) -> None:
        self._lines: dict[Path, int] = {}
        table: Path = ()
        in_multiline = False
        for number, line in enumerate(text.splitlines(), start=1):
            if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
                in_multiline = not in_multiline
                if not in_multiline:
                    continue
            if in_multiline:
                continue
            header = _HEADER.match(line)
            if header:
                table = _parts(header.group(1))
                self._lines.setdefault(table, number)
                continue
            key = _KEY.match(line)
            if key:
                self._lines.setdefault((*table, *_parts(key.group(1))), number)

    def line(self, *path: str) -> int | None:
        """The line of ``path``, else of its nearest enclosing key found (None: unknown)."""
        probe: Path = tuple(path)
        while probe:
            found = self._lines.get(probe)
            if found is not None:
                return found
            probe = probe[:-1]
        return None
