"""The review page's web application (Starlette) and its local server (uvicorn)."""

import io
import json
import os
import secrets
import socket
import threading
from collections import OrderedDict
from importlib import resources
from numbers import Integral

import numpy as np

from ..io import append_decision, listing_digest, read_decisions, read_image
from ..utils import warn
from ..utils._constraints import PATH
from ..utils._sklearn_compat import Interval, validate_params
from ._items import order_items

#: The page's own files (package data), the only ones served besides the images.
STATIC = {"app.js": "text/javascript", "app.css": "text/css"}
#: The cookie that carries the token after the first visit.
COOKIE = "skhisto_review_token"
_CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'"
#: Headers of every response: nothing loads from elsewhere, no framing, no sniffing.
_HEADERS = [
    (b"content-security-policy", _CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


def _import_web():
    try:
        import starlette  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "the review page needs starlette and uvicorn; install them with "
            "`pip install 'skhisto[review]'`."
        ) from exc


def _png(image):
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, "PNG", compress_level=3)
    return buffer.getvalue()


class _Images:
    """PNG bytes of the images by position, a few kept in memory."""

    def __init__(self, read, size=64):
        self.read, self.size, self.kept = read, size, OrderedDict()
        self.lock = threading.Lock()

    def __call__(self, index):
        with self.lock:
            if index in self.kept:
                self.kept.move_to_end(index)
                return self.kept[index]
        data = _png(self.read(index))
        with self.lock:
            self.kept[index] = data
            while len(self.kept) > self.size:
                self.kept.popitem(last=False)
        return data


class _TokenGuard:
    """ASGI middleware: every request carries the token (query, header or cookie), else 403."""

    def __init__(self, app, token):
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from starlette.requests import Request
        from starlette.responses import PlainTextResponse

        async def send_guarded(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + _HEADERS
            await send(message)

        request = Request(scope)
        given = (
            request.query_params.get("token")
            or request.headers.get("x-review-token")
            or request.cookies.get(COOKIE)
            or ""
        )
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            response = PlainTextResponse(
                "403: this review page needs its token: open the address skhisto review printed",
                status_code=403,
            )
            return await response(scope, receive, send_guarded)
        return await self.app(scope, receive, send_guarded)


@validate_params(
    {
        "items": ["array-like", dict],
        "decisions_path": PATH,
        "read": [callable, None],
        "neighbors": [list, None],
        "read_neighbor": [callable, None],
        "classes": ["array-like", None],
        "token": [str, None],
        "input_digest": [str, None],
        "title": [str],
    },
    prefer_skip_nested_validation=True,
)
def make_app(
    items,
    decisions_path,
    *,
    read=None,
    neighbors=None,
    read_neighbor=None,
    classes=None,
    token=None,
    input_digest=None,
    title="skhisto review",
):
    """The review page of ``items`` as a Starlette application.

    Every request needs the token (``?token=`` in the address, an
    ``X-Review-Token`` header or the cookie the page sets), images are served
    by their position in ``items`` only (never by a path a client names),
    and the page loads nothing from elsewhere. Each decision is appended to
    ``decisions_path`` at once (:func:`skhisto.io.append_decision`).

    Parameters
    ----------
    items : pandas.DataFrame or dict
        ``path`` and optionally ``label``, ``suggested_label``,
        ``label_quality``, ``score`` columns, put in review order by
        :func:`order_items`; the index after it is the item's row in the
        input. A ``file`` column gives the file to read when ``path`` is not
        one (e.g. relative to a CSV's folder).
    decisions_path : str or os.PathLike
        The decisions file; reviewing resumes from it when it exists.
    read : callable, default=None
        ``read(position) -> (H, W, 3) uint8 array``: the image of the item
        at that position of the review order. None: :func:`skhisto.io.read_image`
        of its ``file`` (or ``path``).
    neighbors : list of dict, default=None
        Per item in review order, ``{class: [reference rows]}``
        (:func:`class_neighbors`); None: no neighbours shown.
    read_neighbor : callable, default=None
        ``read_neighbor(row) -> uint8 array``: a reference image; needed with
        ``neighbors``.
    classes : array-like of str, default=None
        The classes a reviewer relabels to (keys 1-9 in this order); None:
        the labels and suggested labels of the items, sorted.
    token : str, default=None
        The access token; None: a new random one (``secrets.token_urlsafe``).
    input_digest : str, default=None
        The input's :func:`skhisto.io.listing_digest`; None: the digest of
        the items' paths and labels in input order (``sort_index()``).
    title : str, default="skhisto review"
        The page's title.

    Returns
    -------
    starlette.applications.Starlette
        ``app.state.token`` is the token, ``app.state.input_digest`` the digest.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from starlette.testclient import TestClient
    >>> from skhisto.review import make_app
    >>> items = {"path": ["a.png", "b.png"], "label": ["tumor", "stroma"]}
    >>> path = os.path.join(tempfile.mkdtemp(), "tiles.decisions.csv")
    >>> app = make_app(items, path, read=lambda i: np.zeros((8, 8, 3), np.uint8), token="t")
    >>> client = TestClient(app)
    >>> client.get("/api/state").status_code  # no token
    403
    >>> client.post("/api/decide?token=t", json={"index": 1, "decision": "relabel",
    ...                                           "new_label": "tumor"}).json()["decision"]
    'relabel'
    >>> open(path).read().splitlines()[2].split(",")[:4]
    ['b.png', 'stroma', 'relabel', 'tumor']
    """
    _import_web()
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    items = order_items(items)
    if neighbors is not None and (read_neighbor is None or len(neighbors) != len(items)):
        raise ValueError("neighbors needs read_neighbor and one entry per item")
    in_order = items.sort_index()
    digest = input_digest or listing_digest(in_order["path"], in_order["label"])
    token = token or secrets.token_urlsafe(24)
    paths = items["path"].astype(str).tolist()
    labels = items["label"].astype(str).tolist()
    position = {path: i for i, path in enumerate(paths)}
    if classes is None:
        found = set(labels)
        if "suggested_label" in items:
            found |= set(items["suggested_label"].fillna("").astype(str))
        classes = sorted(found - {""})
    classes = [str(c) for c in classes]
    files = items["file"].tolist() if "file" in items else paths
    images = _Images(read or (lambda i: read_image(files[i])))
    neighbor_images = _Images(read_neighbor) if neighbors is not None else None

    def current():
        if not os.path.exists(decisions_path):
            return {}
        table = read_decisions(decisions_path, input_digest=digest)
        return {
            row.path: (row.decision, row.new_label, row.reviewed_at)
            for row in table.itertuples()
            if row.path in position
        }

    current()  # a file of another input is refused before serving

    def number(value):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return None
        return value if np.isfinite(value) else None

    def item_json(i, decided):
        row = items.iloc[i]
        decision, new_label, when = decided.get(paths[i], ("pending", "", ""))
        entry = {
            "index": i,
            "path": paths[i],
            "label": labels[i],
            "suggested_label": str(row.get("suggested_label", "") or ""),
            "score": number(row.get("score")),
            "label_quality": number(row.get("label_quality")),
            "decision": decision,
            "new_label": new_label,
            "reviewed_at": when,
        }
        if neighbors is not None:
            entry["neighbors"] = neighbors[i]
        return entry

    async def page(request):
        html = resources.files(__package__).joinpath("static", "index.html").read_text("utf-8")
        response = HTMLResponse(html.replace("{{title}}", _escape(title)))
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    async def static(request):
        name = request.path_params["name"]
        if name not in STATIC:
            return Response("not found", status_code=404)
        data = resources.files(__package__).joinpath("static", name).read_bytes()
        return Response(data, media_type=STATIC[name])

    async def state(request):
        decided = current()
        entries = [item_json(i, decided) for i in range(len(items))]
        undecided = [e["index"] for e in entries if e["decision"] == "pending"]
        return JSONResponse(
            {
                "title": title,
                "classes": classes,
                "items": entries,
                "first_undecided": undecided[0] if undecided else None,
                "decisions_file": os.fspath(decisions_path),
            }
        )

    def index_of(request):
        try:
            index = int(request.path_params["index"])
        except ValueError:
            index = -1
        return index

    async def image(request):
        index = index_of(request)
        if not 0 <= index < len(items):
            return Response("no such item", status_code=404)
        return Response(images(index), media_type="image/png", headers=_PRIVATE)

    async def neighbor(request):
        row = index_of(request)
        allowed = neighbors is not None and any(
            row in rows for entry in neighbors for rows in entry.values()
        )
        if not allowed:
            return Response("no such neighbour", status_code=404)
        return Response(neighbor_images(row), media_type="image/png", headers=_PRIVATE)

    def decide_row(body):
        index, decision = body.get("index"), body.get("decision")
        if not isinstance(index, int) or not 0 <= index < len(items):
            raise ValueError(f"no item {index!r}")
        new_label = str(body.get("new_label") or "")
        if decision == "relabel":
            if new_label not in classes:
                raise ValueError(f"{new_label!r} is not one of the classes {classes}")
            if new_label == labels[index]:
                decision, new_label = "keep", ""  # relabelled to its own label: kept
        if decision == "keep" and not labels[index]:
            raise ValueError("an unlabeled item cannot be kept: relabel it to a class")
        return index, {
            "path": paths[index],
            "label": labels[index],
            "decision": decision,
            "new_label": new_label if decision == "relabel" else "",
        }

    async def decide(request):
        try:
            body = await request.json()
            index, row = decide_row(body if isinstance(body, dict) else {})
            table = append_decision(decisions_path, row, input_digest=digest)
        except (ValueError, json.JSONDecodeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        decided = {r.path: (r.decision, r.new_label, r.reviewed_at) for r in table.itertuples()}
        return JSONResponse(item_json(index, decided))

    async def undo(request):
        """Undo the latest decision still standing: it becomes pending again."""
        if not os.path.exists(decisions_path):
            return JSONResponse(None)
        table = read_decisions(decisions_path, input_digest=digest)
        standing = table[(table["decision"] != "pending") & table["path"].isin(position)]
        if standing.empty:
            return JSONResponse(None)
        standing = set(standing["path"])
        latest = [path for path in table.attrs["last_decided"] if path in standing][-1]
        index = position[latest]
        row = {"path": paths[index], "label": labels[index], "decision": "pending"}
        table = append_decision(decisions_path, row, input_digest=digest)
        decided = {r.path: (r.decision, r.new_label, r.reviewed_at) for r in table.itertuples()}
        return JSONResponse(item_json(index, decided))

    routes = [
        Route("/", page),
        Route("/static/{name}", static),
        Route("/api/state", state),
        Route("/api/decide", decide, methods=["POST"]),
        Route("/api/undo", undo, methods=["POST"]),
        Route("/image/{index}", image),
        Route("/neighbor/{index}", neighbor),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(_TokenGuard, token=token)])
    app.state.token, app.state.input_digest = token, digest
    return app


_PRIVATE = {"Cache-Control": "private, max-age=3600"}


def _escape(text):
    import html

    return html.escape(text)


def _bind(host, port):
    """A listening socket on ``host:port`` (0: a free port); OSError said in one line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            what = f"port {port} on {host} is in use; pass another --port, or 0 for a free one"
            raise OSError(exc.errno, what) from None
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@validate_params(
    {
        "app": "no_validation",
        "host": [str],
        "port": [Interval(Integral, 0, 65535, closed="both")],
        "open_browser": ["boolean"],
        "verbose": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def serve(app, *, host="127.0.0.1", port=0, open_browser=False, verbose=True):
    """Serve a review page (:func:`make_app`) on this machine until interrupted.

    Parameters
    ----------
    app : starlette.applications.Starlette
        The page, from :func:`make_app`.
    host : str, default="127.0.0.1"
        The address to listen on. Another than the loopback address lets
        other machines reach the page (with the token): warned.
    port : int, default=0
        The port; 0 picks a free one.
    open_browser : bool, default=False
        Open the page in the default web browser.
    verbose : bool, default=True
        Print the page's address (with its token) on stdout.

    Returns
    -------
    None
        Returns when the server stops (Ctrl-C).

    Raises
    ------
    OSError
        When the port is in use, in one line.

    Examples
    --------
    >>> from skhisto.review import make_app, serve
    >>> app = make_app({"path": ["a.png"], "label": ["tumor"]}, "tiles.decisions.csv")
    >>> serve(app, port=8765)  # doctest: +SKIP
    review page: http://127.0.0.1:8765/?token=...
    """
    _import_web()
    import uvicorn

    if host not in ("127.0.0.1", "localhost", "::1"):
        warn(
            f"the review page listens on {host}: other machines can reach it, guarded by its "
            "token only (the address printed); the default 127.0.0.1 keeps it on this machine"
        )
    sock = _bind(host, port)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/?token={app.state.token}"
    app.state.url = url
    if verbose:
        print(f"review page: {url}", flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
