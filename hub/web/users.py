"""Dashboard users: made with `relance user add`, passwords hashed with argon2 (argon2-cffi's
defaults, rehashed on login when those defaults change), a role and the companies they see."""

from __future__ import annotations

import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.clock import utcnow
from hub.errors import PermanentError
from hub.store.events import record_event
from hub.store.models import User

ROLES = ("viewer", "approver", "admin")  # each can do what the one before can, and more
_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not a password anyone has")  # equal work for unknown names
MIN_PASSWORD = 10


def may(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise PermanentError(f"the password is shorter than {MIN_PASSWORD} characters")


def add_user(s: Session, username: str, password: str, role: str = "viewer",
             companies: list[str] | None = None, by: str = "cli") -> User:
    if not re.fullmatch(r"[A-Za-z0-9_.@-]{2,64}", username or ""):
        raise PermanentError(f"user name {username!r}: 2–64 letters, digits or . _ @ -")
    if role not in ROLES:
        raise PermanentError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if s.execute(select(User.id).where(User.username == username)).first():
        raise PermanentError(f"user {username!r} exists: `relance user passwd {username}` "
                             "changes the password, `relance user remove` removes it")
    check_password(password)
    # a random first epoch: a user made again under a reused id (SQLite reuses the highest)
    # does not inherit the sessions of the one removed
    user = User(username=username, password_hash=_hasher.hash(password), role=role,
                companies=companies or ["*"], session_epoch=secrets.randbelow(2**31))
    s.add(user)
    s.flush()
    record_event(s, "user_added", f"user {username} ({role}) added by {by}",
                 data={"user": username, "role": role, "by": by})
    return user


def set_password(s: Session, username: str, password: str, by: str = "cli") -> None:
    user = _named(s, username)
    check_password(password)
    user.password_hash = _hasher.hash(password)
    user.session_epoch += 1  # every session signed under the old password ends
    s.add(user)
    record_event(s, "user_changed", f"password of {username} changed by {by}",
                 data={"user": username, "by": by})


def remove_user(s: Session, username: str, by: str = "cli") -> None:
    user = _named(s, username)
    s.delete(user)
    record_event(s, "user_removed", f"user {username} removed by {by}",
                 data={"user": username, "by": by})


def _named(s: Session, username: str) -> User:
    user = s.execute(select(User).where(User.username == username)).scalars().first()
    if user is None:
        raise PermanentError(f"no user {username!r} (see `relance user list`)")
    return user


def authenticate(s: Session, username: str, password: str) -> User | None:
    """The user, when the name and password match an enabled account (same work either way,
    so timing does not tell which names exist)."""
    user = s.execute(select(User).where(User.username == username)).scalars().first()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    s.add(user)
    return user


def sees(user: User, company: str) -> bool:
    return "*" in user.companies or company in user.companies
