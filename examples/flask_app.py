"""Flask: Sentiero beside a Flask app, the recorder on every page, dashboard for staff only."""

import os

from flask import Flask, render_template_string
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from sentiero import Sentiero

sentiero = Sentiero(
    store_url=os.environ.get("SENTIERO_STORE_URL", "sqlite:///sentiero-flask-example.db"),
    # the dashboard asks the host request; here a shared secret header stands in for a login
    auth=lambda request: request.headers.get("X-Staff-Token") == os.environ.get("STAFF_TOKEN"),
)

app = Flask(__name__)
app.jinja_env.globals["sentiero_script_tag"] = sentiero.script_tag
app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/sentiero": sentiero.wsgi_app})

PAGE = """<!doctype html><html><head><title>Flask shop</title>{{ sentiero_script_tag() }}</head>
<body><h1>Flask shop</h1><input name="q" placeholder="Search"></body></html>"""


@app.get("/")
def home() -> str:
    return render_template_string(PAGE)
