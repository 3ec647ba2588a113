"""How a state that matters looks, in one place: a word or mark first, then an attribute (bold, reverse),
colour only as a second signal.

Under ``NO_COLOR`` the console drops every colour (app/console/app.py), and on a 16-colour terminal
(``TERM=screen``, ``xterm``) it sends the named ANSI colours as they are: so ``red`` is the terminal's
red there, not a theme orange that the downgrade turns into bright red or magenta. Only named ANSI
colours are used here for that reason.
"""

from __future__ import annotations

BAD = "bold reverse red"
"""down, fail, firing, DRIFT, an error rate over the bad threshold: reverse video reads without colour."""

WARN = "bold yellow"
"""degraded, pending, stale, an error rate over the warning threshold: bold, and a word says which."""

GOOD = "green"
QUIET = "dim"

HEALTH = {"up": GOOD, "degraded": WARN, "down": BAD, "unknown": QUIET}
