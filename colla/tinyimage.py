"""A bootable disk image of a few bytes, for proving that a cloud boots servers.

No image can be downloaded on an isolated machine and a real OS takes minutes under
software emulation; this one is a boot sector that writes a line to the first serial
port and halts, so the server's console log shows that the guest really ran.
"""

from __future__ import annotations

GUEST_MESSAGE = "colla guest booted"
IMAGE_BYTES = 1 << 20

# Real-mode code loaded at 0x7c00: point SI at the message (right after the code) and
# DX at COM1, write bytes until the NUL, then halt forever.
_CODE = bytes.fromhex(
    "fa"  # cli
    "31c0"  # xor ax, ax
    "8ed8"  # mov ds, ax
    "be167c"  # mov si, 0x7c16
    "baf803"  # mov dx, 0x3f8
    "ac"  # loop: lodsb
    "84c0"  # test al, al
    "7403"  # jz done
    "ee"  # out dx, al
    "ebf8"  # jmp loop
    "f4"  # done: hlt
    "ebfd"  # jmp done
)


def boot_sector_image(message: str = GUEST_MESSAGE) -> bytes:
    """A 1 MiB raw disk whose boot sector prints ``message`` on the serial port."""
    text = f"{message}\r\n".encode() + b"\0"
    if len(_CODE) + len(text) > 510:
        raise ValueError("message too long for a boot sector")
    sector = (_CODE + text).ljust(510, b"\0") + b"\x55\xaa"
    return sector.ljust(IMAGE_BYTES, b"\0")
