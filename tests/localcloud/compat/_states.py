"""Shared by compat modules (private: not a patch module). In-between states held for a while, and
ACM certificates as the services that use them see them.

hold(cls, attr, transient, settled): `cls.attr` reads `transient` while the object's settle time is
ahead and its own value is `settled` (wrapping a property another patch put there); settle_new /
settle_at set that time. Used for the NAT gateway's `pending` (ec2.py) and the delay layer (timing.py).
"""
from __future__ import annotations

import time
from typing import Any, Callable

STAMP = "_protea_settles_at"


def hold(cls: type, attr: str, transient: str, settled: str) -> None:
    current = cls.__dict__.get(attr)
    if isinstance(current, property):
        getter: Callable[[Any], Any] = current.fget  # type: ignore[assignment]
        setter: Callable[[Any, Any], None] = current.fset  # type: ignore[assignment]
    else:
        slot = f"_protea_{attr}"

        def getter(self: Any) -> Any:
            return self.__dict__.get(slot)

        def setter(self: Any, value: Any) -> None:
            self.__dict__[slot] = value

    def get(self: Any) -> Any:
        value = getter(self)
        return transient if value == settled and settling(self) else value

    setattr(cls, attr, property(get, setter))


def settling(obj: Any) -> bool:
    return time.monotonic() < obj.__dict__.get(STAMP, 0.0)


def settle_at(obj: Any, seconds: float) -> None:
    obj.__dict__[STAMP] = time.monotonic() + seconds


def settle_new(cls: type, seconds: Callable[[Any], float]) -> None:
    """Every new `cls` settles `seconds(obj)` after it is made."""
    original = cls.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        settle_at(self, seconds(self))

    cls.__init__ = __init__  # type: ignore[method-assign]


def acm_certificate(arn: str) -> Any:
    """The ACM certificate an ARN names (None: not an ACM ARN's shape, or no such certificate), its
    status brought up to date (moto turns PENDING_VALIDATION into ISSUED on check() once
    MOTO_ACM_VALIDATION_WAIT has passed)."""
    parts = str(arn or "").split(":")
    if len(parts) != 6 or parts[2] != "acm":
        return None
    from moto.acm.models import acm_backends

    cert = acm_backends[parts[4]][parts[3]]._certificates.get(arn)  # pylint: disable=protected-access
    if cert is not None:
        cert.check()
    return cert
