"""Flask: the Sentiero extension beside a shop, with a Flask-Login login for the dashboard.

    pip install "sentiero[flask]" flask-login
    SHOP_ADMIN_PASSWORD='a long password' flask --app examples/flask_app run

Open http://127.0.0.1:5000/, click around, then http://127.0.0.1:5000/sentiero/ and log in
as ``admin`` with that password.
"""

import hmac
import os

from flask import Flask, redirect, render_template_string, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user

from sentiero.contrib.flask import Sentiero

app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ.get("FLASK_SECRET_KEY", "example-only-change-me")
app.config["SENTIERO_STORE_URL"] = os.environ.get("SENTIERO_STORE_URL",
                                                  "sqlite:///sentiero-flask-example.db")
app.config["SENTIERO_FLUSH_INTERVAL_MS"] = int(os.environ.get("SENTIERO_FLUSH_INTERVAL_MS",
                                                              "10000"))

ADMIN_PASSWORD = os.environ["SHOP_ADMIN_PASSWORD"]  # no default: a sample must not ship one

login_manager = LoginManager(app)
login_manager.login_view = "login"


class Admin(UserMixin):
    id = "admin"


@login_manager.user_loader
def load_user(user_id: str) -> Admin | None:
    return Admin() if user_id == "admin" else None


# Flask-Login sends anonymous visitors of the dashboard to the login view; this callable
# decides who, once logged in, may see it.
sentiero = Sentiero(app, auth=lambda req: current_user.is_authenticated)

SHOP = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Flask shop</title>
{{ sentiero_script_tag() }}</head>
<body><h1>Flask shop</h1><p id="intro">Green kettles, slow boiled.</p>
<form onsubmit="return false"><label>Search <input id="q" name="q"></label>
<button id="go" type="submit">Search</button></form></body></html>"""

LOGIN = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Log in</title>
</head><body><h1>Log in</h1>{% if failed %}<p role="alert">Wrong user or password.</p>{% endif %}
<form method="post"><label>User <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Log in</button></form></body></html>"""


@app.get("/")
def home() -> str:
    return render_template_string(SHOP)


@app.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    failed = False
    if request.method == "POST":
        user_ok = request.form.get("username") == "admin"
        password_ok = hmac.compare_digest(request.form.get("password", "").encode(),
                                          ADMIN_PASSWORD.encode())
        if user_ok and password_ok:
            login_user(Admin())
            target = request.args.get("next", "")
            # only local paths: never an open redirect
            safe = target.startswith("/") and not target.startswith("//")
            return redirect(target if safe else url_for("home"))
        failed = True
    return render_template_string(LOGIN, failed=failed), 401 if failed else 200
