"""An ``Input`` that can never draw an escape sequence.

Textual's ``Input`` renders its value (and its suggestion) raw: a control character in it reaches the
terminal. Every input in modeldeck is this one, so whatever sets a value (a query built from data, a
prefilled prompt, history, a paste) shows control, bidi and zero-width characters as visible
``\\xNN`` escapes (app/text.py), the form the query language reads back inside quotes.
"""

from __future__ import annotations

from textual.widgets import Input

from app.text import clean


class SafeInput(Input):
    def validate_value(self, value: str) -> str:
        return clean(value)
