"""What a 16-colour terminal (TERM=screen, xterm-16color) shows of the console, for snapshots.

The console draws in truecolor and the terminal driver downgrades each colour to the terminal's
system; a snapshot is drawn in truecolor. This line filter does the driver's downgrade (Rich's own
``Color.downgrade``), so the SVG shows the colours an operator on such a terminal sees.
"""

from __future__ import annotations

from rich.color import ColorSystem
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.filter import LineFilter


class SixteenColours(LineFilter):
    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        out = []
        for text, style, control in segments:
            if style is not None and (style.color is not None or style.bgcolor is not None):
                fg = style.color.downgrade(ColorSystem.STANDARD) if style.color is not None else None
                bg = style.bgcolor.downgrade(ColorSystem.STANDARD) if style.bgcolor is not None else None
                style = style + Style.from_color(fg, bg)
            out.append(Segment(text, style, control))
        return out
