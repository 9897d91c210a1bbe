"""The boot-sector image: a valid MBR whose code points at its own message."""

from __future__ import annotations

import pytest

from colla.tinyimage import GUEST_MESSAGE, IMAGE_BYTES, boot_sector_image


def test_boot_sector_layout() -> None:
    image = boot_sector_image()
    assert len(image) == IMAGE_BYTES
    assert image[510:512] == b"\x55\xaa"
    # mov si, imm16 points at the message inside the sector loaded at 0x7c00.
    offset = int.from_bytes(image[6:8], "little") - 0x7C00
    assert image[offset:].startswith(GUEST_MESSAGE.encode() + b"\r\n\0")


def test_message_must_fit() -> None:
    with pytest.raises(ValueError, match="too long"):
        boot_sector_image("x" * 600)
