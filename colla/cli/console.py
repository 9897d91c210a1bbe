"""The CLI's two consoles: results on stdout, progress and warnings on stderr.

Emoji codes are off: rich would turn an operator's ``:x:`` (in a path, a tag, a plan
reason quoting a value) into a picture, and colla prints what it was given as it is.
"""

from __future__ import annotations

from rich.console import Console

out = Console(highlight=False, emoji=False)
err = Console(stderr=True, highlight=False, emoji=False)
