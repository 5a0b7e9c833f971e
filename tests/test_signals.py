"""codesign._signals: a Ctrl-C or SIGTERM that the garbage collector swallowed is raised again."""

from __future__ import annotations

import signal
import weakref

import pytest

from codesign._signals import Terminated, handle, quiet_unraisable, raise_if_signalled, received, reset


class _Thing:
    pass


def _swallowed(signum: int) -> None:
    """Deliver ``signum``'s handler inside a weakref callback, where Python drops the exception
    it raises (prints "Exception ignored"), as it does when a signal lands there."""
    thing = _Thing()
    ref = weakref.ref(thing, lambda _: handle(signum, None))
    del thing  # the callback runs here; its KeyboardInterrupt does not reach us
    assert ref() is None


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the swallowed one
@pytest.mark.parametrize(("signum", "raised"), [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, Terminated)])
def test_a_swallowed_signal_is_raised_again(signum: int, raised: type[BaseException]) -> None:
    reset()
    try:
        _swallowed(signum)  # returns: the interrupt was dropped
        assert received() == signum
        with pytest.raises(raised):
            raise_if_signalled()
        if signum == signal.SIGINT:
            with pytest.raises(KeyboardInterrupt) as caught:
                raise_if_signalled()
            assert not isinstance(caught.value, Terminated)
    finally:
        reset()
    raise_if_signalled()  # after reset: nothing to raise
    assert received() is None


def test_a_noted_interrupt_is_dropped_quietly_and_anything_else_reaches_the_previous_hook() -> None:
    seen: list[BaseException | None] = []
    hook = quiet_unraisable(lambda u: seen.append(u.exc_value))
    reset()
    try:
        hook(_Unraisable(KeyboardInterrupt()))  # no signal noted: not ours, passed on
        handle_noted = _noted(signal.SIGINT)
        assert handle_noted == signal.SIGINT
        hook(_Unraisable(KeyboardInterrupt()))  # a noted interrupt: dropped (raised again later)
        hook(_Unraisable(ValueError("other")))  # anything else: passed on
    finally:
        reset()
    assert [type(e) for e in seen] == [KeyboardInterrupt, ValueError]


class _Unraisable:
    def __init__(self, exc: BaseException) -> None:
        self.exc_value = exc


def _noted(signum: int) -> int | None:
    with pytest.raises(KeyboardInterrupt):
        handle(signum, None)
    return received()
