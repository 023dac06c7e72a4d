"""The dashboard refuses what it must: no sign-in, another site, no CSRF token, the wrong
role or company, too many guesses — and never shows a secret."""

from __future__ import annotations

from sqlalchemy import select

from hub.store.db import session
from hub.store.models import Dispatch, Event, User
from hub.web.users import set_password
from tests.web.conftest import PASSWORD, client, signed_in, token


def _waiting(ws) -> list[int]:
    with session(ws.engine) as s:
        return list(s.execute(select(Dispatch.id).where(Dispatch.status == "planned")
                              .order_by(Dispatch.id)).scalars())


def _status(ws, did: int) -> str:
    with session(ws.engine) as s:
        return s.get(Dispatch, did).status


def test_every_page_needs_a_sign_in_and_changes_need_a_session(ws):
    c = client(ws)
    for path in ("/", "/today", "/customers", "/customers/1", "/invoices/1", "/reports",
                 "/connections", "/templates", "/audit"):
        r = c.get(path)
        assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}", path
    did = _waiting(ws)[0]
    assert c.post(f"/dispatches/{did}/approve").status_code == 401
    assert _status(ws, did) == "planned"


def test_a_change_without_the_csrf_token_or_from_another_site_is_refused(ws):
    c, csrf = signed_in(ws, "alice")
    did = _waiting(ws)[0]
    assert c.post(f"/dispatches/{did}/approve").status_code == 403  # no token
    assert c.post(f"/dispatches/{did}/approve", data={"csrf_token": "forged"}).status_code == 403
    evil = {"origin": "https://evil.example"}
    r = c.post(f"/dispatches/{did}/approve", data={"csrf_token": csrf}, headers=evil)
    assert r.status_code == 403 and "cross-site" in r.text
    r = c.post(f"/dispatches/{did}/approve", data={"csrf_token": csrf},
               headers={"sec-fetch-site": "cross-site"})
    assert r.status_code == 403
    assert _status(ws, did) == "planned"
    # the same request, same-origin and with the token, goes through
    r = c.post(f"/dispatches/{did}/approve", data={"csrf_token": csrf},
               headers={"origin": "http://testserver", "sec-fetch-site": "same-origin"})
    assert r.status_code == 303 and _status(ws, did) == "approved"
    # the token travels as a header too (htmx requests)
    other = _waiting(ws)[0]
    assert c.post(f"/dispatches/{other}/approve", headers={"x-csrf-token": csrf}
                  ).status_code == 303


def test_roles_and_companies_bound_what_a_user_does_and_sees(ws):
    viewer, csrf = signed_in(ws, "vera")
    did = _waiting(ws)[0]
    assert viewer.get("/today").status_code == 200
    r = viewer.post(f"/dispatches/{did}/approve", data={"csrf_token": csrf})
    assert r.status_code == 403 and "approver" in r.text and _status(ws, did) == "planned"
    assert 'name="approve"' not in viewer.get("/today").text  # no button it cannot use
    approver, csrf = signed_in(ws, "alice")
    r = approver.post("/connections/books/authorise", data={"csrf_token": csrf})
    assert r.status_code == 403 and "admin" in r.text
    outsider, _ = signed_in(ws, "otto")  # an admin, of another company
    assert outsider.get("/").status_code == 403


def test_sign_in_guesses_are_limited_and_every_attempt_is_audited(ws):
    c = client(ws)
    csrf = token(c.get("/login").text)
    codes = [c.post("/login", data={"username": "alice", "password": "wrong one!",
                                    "csrf_token": csrf}).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    # the right password is refused too while the window is full
    r = c.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": csrf})
    assert r.status_code == 429
    with session(ws.engine) as s:
        kinds = list(s.execute(select(Event.kind).where(Event.kind.like("login%"))).scalars())
    assert kinds.count("login_failed") == 5 and "login_refused" in kinds


def test_the_session_cookie_is_httponly_lax_and_secure_over_tls(ws):
    c = client(ws)
    cookie = c.get("/login").headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "secure" not in cookie.lower()
    tls = client(ws, base_url="https://testserver")
    assert "secure" in tls.get("/login").headers["set-cookie"].lower()


def test_a_new_password_ends_the_old_sessions_and_next_never_leaves_the_site(ws):
    c, _ = signed_in(ws, "alice")
    assert c.get("/").status_code == 200
    with session(ws.engine, immediate=True) as s:
        set_password(s, "alice", "another long password")
    assert c.get("/").status_code == 303
    fresh = client(ws)
    csrf = token(fresh.get("/login").text)
    r = fresh.post("/login?next=//evil.example/x", data={
        "username": "adam", "password": PASSWORD, "csrf_token": csrf})
    assert r.headers["location"] == "/"


def test_no_secret_is_ever_rendered_and_passwords_are_argon2_hashes(ws, monkeypatch):
    c, _ = signed_in(ws, "adam")
    pages = "".join(c.get(p).text for p in ("/", "/connections", "/audit", "/today"))
    assert PASSWORD not in pages
    with session(ws.engine) as s:
        hashes = list(s.execute(select(User.password_hash)).scalars())
    assert all(h.startswith("$argon2id$") for h in hashes)


def test_a_removed_users_session_does_not_pass_to_one_made_after_with_its_id(ws):
    from hub.web.users import add_user, remove_user

    c, _ = signed_in(ws, "otto")  # the last one made: SQLite gives its id out again
    with session(ws.engine, immediate=True) as s:
        remove_user(s, "otto")
    with session(ws.engine, immediate=True) as s:
        add_user(s, "mallory", PASSWORD, "admin")
    assert c.get("/connections").status_code == 303  # signed out, not mallory
