"""The CLI's progress bar: drawn in place on a terminal, silent elsewhere."""

from __future__ import annotations

import io

from rewards import progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_is_redrawn_in_place_and_ends_its_line() -> None:
    screen = _Terminal()
    bar = progress.TerminalBar(screen, width=10)
    with progress.watching(bar):
        progress.report("orders finished", 1, 4)
        progress.report("orders finished", 4, 4)
    text = screen.getvalue()
    assert "\rorders finished [##........] 1/4 (25%)" in text
    assert text.endswith("\rorders finished [##########] 4/4 (100%)\n")
    progress.report("orders finished", 2, 4)  # nobody watching any more
    assert screen.getvalue() == text


def test_a_new_step_starts_on_its_own_line_and_a_log_file_gets_no_bar() -> None:
    screen = _Terminal()
    bar = progress.TerminalBar(screen, width=4)
    bar("orders submitted", 1, 2)
    bar("orders finished", 0, 2)
    assert "1/2 (50%)\n\rorders finished [....] 0/2 (0%)" in screen.getvalue()
    log = io.StringIO()  # not a terminal
    progress.TerminalBar(log)("orders finished", 1, 2)
    assert log.getvalue() == ""
