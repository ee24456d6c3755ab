"""Django settings of the in-process contrib tests (tests/contrib/conftest.py configures them):
a SQLite file database ("default") and a PostgreSQL database of its own ("postgres")."""

from __future__ import annotations

import os
import tempfile
import uuid
from urllib.parse import urlsplit

from tests.stores.contract import POSTGRES_URL

_pg = urlsplit(POSTGRES_URL)
# in the environment, so worker processes (the concurrency contract) open the same databases
SQLITE_PATH = os.environ.setdefault(
    "SENTIERO_TEST_DJANGO_SQLITE",
    os.path.join(tempfile.mkdtemp(prefix="sentiero-django-"), "db.sqlite3"))
POSTGRES_NAME = os.environ.setdefault("SENTIERO_TEST_DJANGO_PG",
                                      f"sentiero_django_{uuid.uuid4().hex[:10]}")

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "tests.contrib.django_urls"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "sentiero.contrib.django",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
}]
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": SQLITE_PATH,
                "TEST": {"NAME": SQLITE_PATH}},
    # never migrated: what a project sees before `manage.py migrate`
    "bare": {"ENGINE": "django.db.backends.sqlite3",
             "NAME": os.path.join(os.path.dirname(SQLITE_PATH), "bare.sqlite3")},
    "postgres": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": POSTGRES_NAME,
        "USER": _pg.username or "postgres",
        "PASSWORD": _pg.password or "",
        "HOST": _pg.hostname or "127.0.0.1",
        "PORT": str(_pg.port or 5432),
    },
}
LOGIN_URL = "/accounts/login/"
SENTIERO: dict = {}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
