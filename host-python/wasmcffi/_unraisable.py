"""Reporting exceptions that cannot propagate (from callbacks) the way CFFI does:
through `sys.unraisablehook`, with CFFI's `err_msg` texts."""

import sys

_args_type = None


def _unraisable_args_type():
    """The type of `sys.unraisablehook`'s argument, which Python does not export:
    caught once from a deliberately unraisable exception."""
    global _args_type
    if _args_type is None:
        captured = []
        previous = sys.unraisablehook
        sys.unraisablehook = captured.append
        try:

            class _Probe:
                def __del__(self):
                    raise RuntimeError("probe")

            _Probe()
        finally:
            sys.unraisablehook = previous
        _args_type = type(captured[0])
    return _args_type


def report(exc_value, traceback, err_msg):
    """Hands `exc_value` (raised with `traceback`) to `sys.unraisablehook` with `err_msg`."""
    args = _unraisable_args_type()((type(exc_value), exc_value, traceback, err_msg, None))
    sys.unraisablehook(args)
