"""A small site for the browser tests: pages carrying the recorder's script tag."""

from __future__ import annotations

from typing import Any

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Request, Response

from sentiero.app import Sentiero

FORM_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Test shop</title>{tag}</head>
<body>
<h1>Welcome to the test shop</h1>
<p id="intro">Replay should show this sentence about purple umbrellas.</p>
<label>Name <input id="name" name="name"></label>
<label>Password <input id="password" type="password" name="password"></label>
<button id="go" type="button">Go</button>
<div style="height: 3000px">tall content</div>
<p id="bottom">The bottom of the page.</p>
<script>document.getElementById("go").addEventListener("click", function () {{
  var p = document.createElement("p"); p.id = "clicked"; p.textContent = "Button clicked";
  document.body.appendChild(p); }});</script>
</body></html>"""


def make_site(sentiero: Sentiero, body: str = FORM_PAGE) -> Any:
    def site(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path not in ("/", "/page"):
            return Response("Not Found", status=404)(environ, start_response)
        html = body.format(tag=sentiero.script_tag())
        return Response(html, content_type="text/html; charset=utf-8")(environ, start_response)

    return DispatcherMiddleware(site, {sentiero.settings.prefix: sentiero.wsgi_app})
