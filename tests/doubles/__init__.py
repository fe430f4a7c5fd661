"""Test doubles: real servers speaking the real protocol for things unreachable here."""
