"""The desk in a browser: an ASGI app (Starlette) over one corpus, SQLite file or PostgreSQL.

Pages: the reports, a report (claims highlighted, filters, keyboard review), a claim (its
evidence trail side by side, verdict history, reviews), documents (search, correct, what relies
on them), and the latest drift report. A review is appended as ``verify review`` appends it and
a document corrected as ``verify document`` corrects it, in the name of the logged-in user.

Every document is untrusted: templates autoescape everything, and every response forbids
inline script, framing and MIME sniffing (``SECURITY_HEADERS``); the only script is the
package's own ``static/desk.js``.
"""
from __future__ import annotations

import secrets
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from verify.errors import CorpusError, InputError
from verify.web import auth, data

HERE = Path(__file__).resolve().parent
COOKIE = "verify_session"
LOGIN_COOKIE = "verify_login"  # the login form's CSRF token (double-submit: no session exists yet)
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


@dataclass
class DeskConfig:
    """How the desk runs.

    Args:
        target: the corpus: a corpus.db path or a ``postgresql://`` URL.
        login: require a login (False: every request is ``local_user``, a reviewer).
        local_user: the one user of a desk without login.
        allowed_hosts: Host headers answered (others get 400), e.g. loopback names for a
            local desk, so a page from elsewhere cannot rebind a name to it; None: any.
        secure_cookies: always mark cookies Secure (otherwise only on https requests).
    """

    target: str
    login: bool = True
    local_user: str = "local"
    allowed_hosts: tuple[str, ...] | None = None
    secure_cookies: bool = False
    open_corpora: list = field(default_factory=list)


def is_loopback(host: str) -> bool:
    import ipaddress

    if host.strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def needs_login(target: str, host: str) -> bool:
    """A local desk (a corpus.db file, served on a loopback address) may run as one user; any
    other address, or a PostgreSQL store that others share, requires a login."""
    from verify.store import is_postgres

    return is_postgres(target) or not is_loopback(host)


class _Stores:
    """One corpus connection per worker thread (SQLite connections stay in their thread)."""

    def __init__(self, config: DeskConfig):
        self.config = config
        self.local = threading.local()
        self.lock = threading.Lock()

    def get(self):
        corpus = getattr(self.local, "corpus", None)
        if corpus is None:
            from verify.store import open_corpus

            corpus = open_corpus(self.config.target, migrate=False)
            self.local.corpus = corpus
            with self.lock:
                self.config.open_corpora.append(corpus)
        return corpus

    def close(self) -> None:
        with self.lock:
            for corpus in self.config.open_corpora:
                try:
                    corpus.close()
                except Exception:  # closing at shutdown: a connection already gone is fine
                    pass
            self.config.open_corpora.clear()


class SecurityHeaders:
    """ASGI middleware: the security headers on every response, and no caching of pages."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        static = scope.get("path", "").startswith("/static/")

        async def wrapped(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in names]
                if not static and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, wrapped)


def _templates():
    import jinja2

    from verify.outputs.export import human_date, human_time

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(human_date=human_date, human_time=human_time,
                       pct=lambda x: "n/a" if x is None else f"{x:.2f}")
    env.globals.update(labels=data.LABELS, review_labels=data.REVIEW_LABELS)
    return env


def create_app(config: DeskConfig):
    """The ASGI app for ``config`` (``verify serve`` runs it with uvicorn)."""
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    env = _templates()
    stores = _Stores(config)

    async def db(fn, *args, **kwargs):
        """``fn(corpus, *args)`` on a worker thread, with that thread's own connection."""
        return await run_in_threadpool(lambda: fn(stores.get(), *args, **kwargs))

    def render(request, name: str, status: int = 200, **context):
        user = request.state.user if hasattr(request.state, "user") else None
        html = env.get_template(name).render(user=user, login=config.login, path=request.url.path, **context)
        response = HTMLResponse(html, status_code=status)
        if user is not None and getattr(request.state, "new_session", False):
            _set_cookie(request, response, COOKIE, user.token, auth.SESSION_HOURS * 3600)
        return response

    def _secure(request) -> bool:
        # uvicorn sets the scheme from X-Forwarded-Proto when the peer is a trusted proxy
        # (``verify serve --trusted-proxy``): a desk behind TLS gets https here.
        return config.secure_cookies or request.url.scheme == "https"

    def _set_cookie(request, response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                            secure=_secure(request))

    def page_error(request, status: int, message: str):
        return render(request, "error.html.j2", status=status, status_code=status, message=message)

    async def who(request, *, write: bool = False):
        """The request's user (also in ``request.state.user``), or a response to send instead:
        the login page, or 403 for a viewer asking to write."""
        token = request.cookies.get(COOKIE)
        user = await db(auth.session_user, token,
                                       local_role=None if config.login else "reviewer")
        if user is None and not config.login:
            user = await db(auth.start_session, config.local_user, "reviewer")
            request.state.new_session = True
        request.state.user = user
        if user is None:
            if request.method != "GET":
                return page_error(request, 403, "you are not logged in (or your session ended); log in and try again")
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse("/login?" + urllib.parse.urlencode({"next": target}), status_code=303)
        if write and not user.may_write:
            return page_error(request, 403, f"{user.name} is a {user.role}: viewers cannot review or edit")
        return user

    async def form_of(request, user):
        """The posted form, or a 403 response when its CSRF token is not the session's."""
        form = await request.form()
        if not auth.csrf_ok(user, form.get("csrf")):
            return None, page_error(request, 403, "this form did not come from this desk, or your session "
                                                  "changed: reload the page and send it again")
        return form, None

    def safe_next(value, default: str) -> str:
        # Only a path on this desk: never another site (open redirect), never a scheme.
        value = str(value or "")
        if value.startswith("/") and not value.startswith("//") and "\\" not in value and "\n" not in value:
            return value
        return default

    def with_query(url: str, **params) -> str:
        parts = urllib.parse.urlsplit(url)
        query = dict(urllib.parse.parse_qsl(parts.query))
        query.update({k: str(v) for k, v in params.items()})
        return urllib.parse.urlunsplit(("", "", parts.path, urllib.parse.urlencode(query), parts.fragment))

    # --- pages ----------------------------------------------------------------------------------------
    async def reports(request):
        user = await who(request)
        if not isinstance(user, auth.User):
            return user
        rows, run = await db(data.reports)
        return render(request, "reports.html.j2", reports=rows, recheck=run)

    async def report(request):
        user = await who(request)
        if not isinstance(user, auth.User):
            return user
        q = request.query_params
        label = q.get("label") if q.get("label") in data.LABELS else None
        reviewed = q.get("reviewed") if q.get("reviewed") in ("yes", "no") else None
        filters = {"label": label, "needs_review": q.get("needs_review") == "1", "reviewed": reviewed,
                   "speaker": q.get("speaker") or None}
        view = await db(data.report, request.path_params["report_id"], **filters)
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        nonce = secrets.token_urlsafe(12)
        return render(request, "report.html.j2", filters=filters, here=here, nonce=nonce,
                      recorded=q.get("recorded"), **view)

    async def claim_page(request):
        user = await who(request)
        if not isinstance(user, auth.User):
            return user
        view = await db(data.claim, request.path_params["claim_id"])
        return render(request, "claim.html.j2", nonce=secrets.token_urlsafe(12), here=request.url.path,
                      recorded=request.query_params.get("recorded"), **view)

    async def review(request):
        user = await who(request, write=True)
        if not isinstance(user, auth.User):
            return user
        form, refused = await form_of(request, user)
        if refused:
            return refused
        claim_id = request.path_params["claim_id"]
        label, note, nonce = form.get("label"), str(form.get("note") or "").strip(), str(form.get("nonce") or "")
        if label not in data.REVIEW_LABELS:
            return page_error(request, 400, f"{label!r} is not a label; use one of {', '.join(data.REVIEW_LABELS)}")
        if not note:
            return page_error(request, 400, "a review needs a note that says why")
        if not nonce or len(nonce) > 100:
            return page_error(request, 400, "the form has no one-time key; reload the page and send it again")
        recorded = await db(record_review, claim_id, label, note, user.name, nonce)
        back = safe_next(form.get("next"), f"/claims/{claim_id}")
        return RedirectResponse(with_query(back, recorded=claim_id if recorded else f"{claim_id}-again")
                                + f"#c{claim_id}", status_code=303)

    async def documents(request):
        user = await who(request)
        if not isinstance(user, auth.User):
            return user
        q = request.query_params
        kind = q.get("kind") if q.get("kind") in ("official", "report", "removed") else None
        search = {"kind": kind, "search": q.get("q") or None, "publisher": q.get("publisher") or None,
                  "speaker": q.get("speaker") or None}
        rows = await db(lambda corpus: corpus.documents(**search))
        return render(request, "documents.html.j2", documents=rows, search=search)

    async def document(request):
        user = await who(request)
        if not isinstance(user, auth.User):
            return user
        view = await db(data.document, request.path_params["doc_id"])
        return render(request, "document.html.j2", nonce=secrets.token_urlsafe(12),
                      changed=request.query_params.get("changed"), **view)

    async def edit_document(request):
        user = await who(request, write=True)
        if not isinstance(user, auth.User):
            return user
        form, refused = await form_of(request, user)
        if refused:
            return refused
        doc_id = request.path_params["doc_id"]
        nonce = str(form.get("nonce") or "")
        if not nonce or len(nonce) > 100:
            return page_error(request, 400, "the form has no one-time key; reload the page and send it again")
        fields = {k: str(form.get(k)) for k in ("speaker", "published", "publisher") if form.get(k) is not None}
        result = await db(record_edit, doc_id, fields, user.name, nonce)
        return RedirectResponse(f"/documents/{doc_id}?changed={len(result['changed'])}", status_code=303)

    async def drift(request):
        user = await who(request)
        if not isinstance(user, auth.User):
            return user
        run, changes = await db(data.latest_drift)
        return render(request, "drift.html.j2", run=run, drift=changes)

    # --- login ----------------------------------------------------------------------------------------------
    async def login_page(request):
        if not config.login:
            return RedirectResponse("/", status_code=303)
        token = secrets.token_urlsafe(24)
        response = render(request, "login.html.j2", csrf=token, next=safe_next(request.query_params.get("next"), "/"),
                          error=None)
        _set_cookie(request, response, LOGIN_COOKIE, token, 3600)
        return response

    async def login(request):
        if not config.login:
            return RedirectResponse("/", status_code=303)
        form = await request.form()
        sent, kept = str(form.get("csrf") or ""), request.cookies.get(LOGIN_COOKIE) or ""
        if not (sent and kept and secrets.compare_digest(sent, kept)):
            return page_error(request, 403, "this login form did not come from this desk; reload it and try again")
        name, password = str(form.get("name") or ""), str(form.get("password") or "")
        address = request.client.host if request.client else "unknown"
        nxt = safe_next(form.get("next"), "/")
        try:
            user = await db(auth.login, name, password, address)
        except auth.Throttled as e:
            return render(request, "login.html.j2", status=429, csrf=kept, next=nxt, error=str(e))
        if user is None:
            return render(request, "login.html.j2", status=401, csrf=kept, next=nxt,
                          error="wrong name or password")
        response = RedirectResponse(nxt, status_code=303)
        _set_cookie(request, response, COOKIE, user.token, auth.SESSION_HOURS * 3600)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    async def logout(request):
        user = await who(request)
        if not isinstance(user, auth.User):
            return user
        form, refused = await form_of(request, user)
        if refused:
            return refused
        await db(auth.end_session, user.token)
        response = RedirectResponse("/login" if config.login else "/", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # --- errors ---------------------------------------------------------------------------------------------
    async def not_found(request, exc):
        return page_error(request, 404, str(exc))

    async def bad_input(request, exc):
        return page_error(request, 400, str(exc))

    async def http_error(request, exc):
        if exc.status_code == 404:
            return page_error(request, 404, "no such page")
        return PlainTextResponse(exc.detail or "error", status_code=exc.status_code)

    @asynccontextmanager
    async def lifespan(app):
        yield
        stores.close()

    routes = [
        Route("/", reports),
        Route("/reports/{report_id:int}", report),
        Route("/claims/{claim_id:int}", claim_page),
        Route("/claims/{claim_id:int}/review", review, methods=["POST"]),
        Route("/documents", documents),
        Route("/documents/{doc_id:int}", document),
        Route("/documents/{doc_id:int}", edit_document, methods=["POST"]),
        Route("/drift", drift),
        Route("/login", login_page),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [Middleware(SecurityHeaders)]
    if config.allowed_hosts:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(config.allowed_hosts)))
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={CorpusError: not_found, InputError: bad_input, HTTPException: http_error})
    app.state.config = config
    return app


# --- the changes, each in one transaction with its form's one-time key -----------------------------------

def record_review(corpus, claim_id: int, label: str, note: str, by: str, nonce: str) -> bool:
    """Append a review as ``verify review`` does (``Corpus.add_review``); False if this form was
    recorded before (sent twice), in which case nothing is added."""
    from verify.store.users import claim_nonce

    corpus.claim(claim_id)  # a missing claim is a 404, not a used key
    with corpus.transaction():
        if not claim_nonce(corpus, nonce, by):
            return False
        corpus.add_review(claim_id, label, note, by)
    return True


def record_edit(corpus, doc_id: int, fields: dict, by: str, nonce: str) -> dict:
    """Correct a document's speaker, date or publisher as ``verify document`` does
    (``attribute.edit_document``: recorded, dependent claims marked stale, sentences attributed
    again). An empty field clears it."""
    from verify.pipeline.attribute import edit_document
    from verify.pipeline.ingest import normalise_date
    from verify.store.users import claim_nonce

    changes = {k: v.strip() or None for k, v in fields.items()}
    if "published" in changes:
        changes["published"] = normalise_date(changes["published"], where="date")
    corpus.document(doc_id)
    with corpus.transaction():
        if not claim_nonce(corpus, nonce, by):
            return {"changed": {}, "stale": []}
        return edit_document(corpus, doc_id, changes, by)
