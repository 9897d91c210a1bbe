"""Reading the operator's text files, and quoting their values back in one-line errors."""

from __future__ import annotations

from pathlib import Path

from colla.errors import BadInput

# No file an operator writes for colla comes near this; a bigger one is a mistake (a
# disk image named globals.yml) that would only be read into memory to be refused.
MAX_FILE_BYTES = 8 * 1024 * 1024
# A value quoted in an error is cut here: a 309-byte alias bomb once expanded to an
# error message of 52 MB, and a terminal line should stay a line.
MAX_QUOTED = 80
_BOM = "\ufeff"


def read_text(path: Path) -> str:
    """``path`` as UTF-8 text, a byte-order mark dropped; errors name the file (and line)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a directory, not a file") from None
    except OSError as e:
        raise BadInput(f"{path}: cannot read: {e.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise BadInput(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        byte = data[e.start : e.start + 1].hex()
        raise BadInput(f"{path}:{line}: not UTF-8 text (byte 0x{byte})") from None
    # Windows editors save UTF-8 with a byte-order mark; it is not part of the content.
    return text.removeprefix(_BOM)


def quote(value: object) -> str:
    """``repr(value)``, cut to a length that fits a line of an error message."""
    text = repr(value)
    if len(text) <= MAX_QUOTED:
        return text
    return f"{text[: MAX_QUOTED - 3]}... ({len(text)} characters)"
