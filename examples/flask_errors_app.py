"""Flask with server-side error tracking: sentry-sdk (its Flask integration) reports to
Sentiero, and each error links to the replay of the visit at the failing request.

    export SENTIERO_STORE_URL=sqlite:///sentiero-flask-errors.db
    sentiero keys create --store "$SENTIERO_STORE_URL" --project shop \
        --public-url http://127.0.0.1:5000/sentiero      # prints the DSN
    export SENTIERO_DSN=http://snt_...@127.0.0.1:5000/sentiero/1 STAFF_TOKEN=letmein
    flask --app examples.flask_errors_app run

Open http://127.0.0.1:5000/, press "Place order", then the dashboard's Errors page
(send ``X-Staff-Token: letmein``).
"""

import os

from flask import Flask, render_template_string
from sentry_sdk.integrations.flask import FlaskIntegration
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from sentiero import Sentiero, reporter

sentiero = Sentiero(
    store_url=os.environ.get("SENTIERO_STORE_URL", "sqlite:///sentiero-flask-errors.db"),
    auth=lambda request: request.headers.get("X-Staff-Token") == os.environ.get("STAFF_TOKEN"),
    flush_interval_ms=int(os.environ.get("SENTIERO_FLUSH_INTERVAL_MS", "10000")),
)
if os.environ.get("SENTIERO_DSN"):
    reporter.init(dsn=os.environ["SENTIERO_DSN"], integrations=[FlaskIntegration()],
                  environment="example")


class CardDeclined(Exception):
    pass


app = Flask(__name__)
app.jinja_env.globals["sentiero_script_tag"] = sentiero.script_tag
app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/sentiero": sentiero.wsgi_app})

PAGE = """<!doctype html><html><head><title>Flask shop</title>{{ sentiero_script_tag() }}</head>
<body><h1>Flask shop</h1>
<p id="cart">1 umbrella, purple</p>
<button id="order" type="button">Place order</button>
<p id="result" aria-live="polite"></p>
<script src="/order.js" defer></script>
</body></html>"""

ORDER_JS = """document.getElementById("order").addEventListener("click", async () => {
  const answer = await fetch("/checkout", { method: "POST" });
  document.getElementById("result").textContent =
    answer.ok ? "Ordered" : "Something went wrong (" + answer.status + ")";
});"""


@app.get("/")
def home() -> str:
    return render_template_string(PAGE)


@app.get("/order.js")
def order_js() -> tuple[str, int, dict[str, str]]:
    return ORDER_JS, 200, {"Content-Type": "text/javascript"}


@app.post("/checkout")
def checkout() -> str:
    raise CardDeclined("the card ending 4242 was declined")
