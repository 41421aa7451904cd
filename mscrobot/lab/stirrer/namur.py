"""The NAMUR line protocol as IKA speaks it: framing and wire timing shared by driver and emulator.

Commands and replies are ASCII lines ending in "blank CR LF"; receivers strip trailing blanks.
The line is 9600 baud, 7 data bits, even parity, 1 stop bit: 10 bits on the wire per character
(start + 7 data + parity + stop), so each character costs 10/9600 s ≈ 1.04 ms.
"""

from __future__ import annotations

BAUD = 9600
BITS_PER_CHAR = 10
EOL = b" \r\n"
CHAR_TIME_S = BITS_PER_CHAR / BAUD


def frame(text: str) -> bytes:
    """One command or reply as it goes on the wire."""
    return text.encode("ascii") + EOL


def wire_time(n_bytes: int, baud: int = BAUD) -> float:
    """Seconds that ``n_bytes`` characters take on a serial line at ``baud``."""
    return n_bytes * BITS_PER_CHAR / baud


def unframe(line: bytes) -> str | None:
    """The text of a received line (terminator removed), or None when it cannot be NAMUR:
    bytes outside 7-bit ASCII or control characters mean line noise, not a reply."""
    body = line.rstrip(b"\r\n").rstrip(b" ")
    if any(b < 0x20 or b > 0x7E for b in body):
        return None
    return body.decode("ascii")
