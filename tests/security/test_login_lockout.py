"""Admin login lockout: failed logins per username + client address lock that pair out for a while.

Through real uvicorn processes with the real admin login form (cookie, CSRF token, POST), and with
Django's test client where another client address is needed (REMOTE_ADDR).
"""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory
from tests.processes import service_env, serving_asgi, wait_until
from tests.test_startup import _embedded_env, _manage

PASSWORD = "right-horse-battery-staple"
WRONG_PASSWORD_MESSAGE = "Please enter the correct username and password"
LOCKED_MESSAGE = "Too many failed login attempts"
LOGIN = "/admin/login/"


@dataclass
class Answer:
    status: int
    headers: Message
    body: str


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 302 is an answer to look at, not something to follow


class Browser:
    """A browser on the admin login form: keeps its cookies, does not follow redirects.

    ``forwarded_for`` adds ``X-Forwarded-For``, as a client (or a proxy in front of the server) would.
    """

    def __init__(self, base_url: str, *, forwarded_for: str | None = None) -> None:
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), urllib.request.ProxyHandler({}), _KeepRedirects()
        )

    def open(self, path: str, data: dict[str, str] | None = None) -> Answer:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(f"{self.base_url}{path}", data=body, headers=self.headers)
        try:
            with self._opener.open(request, timeout=30) as response:
                return Answer(response.status, response.headers, response.read().decode())
        except urllib.error.HTTPError as error:
            with error:
                return Answer(error.code, error.headers, error.read().decode())

    def log_in(self, username: str, password: str) -> Answer:
        """GET the form (CSRF cookie and token), then POST it, like a person at the login page."""
        form = self.open(LOGIN)
        assert form.status == 200, form
        assert any(cookie.name == settings.CSRF_COOKIE_NAME for cookie in self.jar)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.body).group(1)
        return self.open(
            LOGIN, {"csrfmiddlewaretoken": token, "username": username, "password": password, "next": "/admin/"}
        )

    def in_admin(self) -> bool:
        """Whether this browser's session is logged in to the admin."""
        return self.open("/admin/").status == 200


def _superuser(username: str):
    return get_user_model().objects.create_superuser(username, f"{username}@example.com", PASSWORD)


def _assert_logged_in(answer: Answer) -> None:
    assert (answer.status, answer.headers.get("Location")) == (302, "/admin/"), answer.body[:2000]


def _assert_locked_out(answer: Answer) -> None:
    assert answer.status == 429, answer.body[:2000]
    assert answer.headers.get_content_type() == "text/html"
    assert LOCKED_MESSAGE in answer.body
    # The unlock time carries its date when it falls on another day (a lockout shortly before midnight).
    unlock = r"\(after (\d{4}-\d\d-\d\d )?\d\d:\d\d UTC\)"
    assert re.search(r"Try again in \d+ (minutes?|seconds?) " + unlock, answer.body), answer.body
    assert 0 < int(answer.headers["Retry-After"]) <= settings.LOGIN_COOLOFF_MINUTES * 60


# --- through a real server ------------------------------------------------------------------------------


def _server_env(**extra: str) -> dict[str, str]:
    env = service_env(CACHE_KEY_PREFIX=settings.KEY_PREFIX, **extra)
    for name in ("LOGIN_FAILURE_LIMIT", "LOGIN_COOLOFF_MINUTES"):
        if name not in extra:
            env.pop(name, None)  # the defaults: 5 failures, 15 minutes
    return env


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_five_wrong_passwords_lock_the_admin_login_even_for_the_right_password(tmp_path):
    _superuser("boss")
    _superuser("clerk")
    # A server reached directly: no client is a proxy whose X-Forwarded-For would be believed.
    env = _server_env(FORWARDED_ALLOW_IPS="")

    with serving_asgi(env, tmp_path / "server.log") as base_url:
        browser = Browser(base_url)
        answers = [browser.log_in("boss", f"guess-{n}") for n in range(5)]
        assert [a.status for a in answers] == [200, 200, 200, 200, 429]
        assert all(WRONG_PASSWORD_MESSAGE in a.body for a in answers[:4])
        _assert_locked_out(answers[4])

        refused = browser.log_in("boss", PASSWORD)
        _assert_locked_out(refused)
        assert "boss" in refused.body
        assert not browser.in_admin()

        # Claiming another address in X-Forwarded-For changes nothing: the server does not believe it.
        _assert_locked_out(Browser(base_url, forwarded_for="203.0.113.9").log_in("boss", PASSWORD))

        # Another user at the same address is not locked out.
        clerk = Browser(base_url)
        _assert_logged_in(clerk.log_in("clerk", PASSWORD))
        assert clerk.in_admin()

        # The documented unlock, then the right password works at once.
        call_command("axes_reset_username", "boss")
        _assert_logged_in(browser.log_in("boss", PASSWORD))
        assert browser.in_admin()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_behind_a_trusted_proxy_each_client_has_its_own_count_and_the_lockout_ends_after_the_cool_off(tmp_path):
    _superuser("boss")
    # The proxy is on this host (127.0.0.1); the failure limit and a short cool-off come from the environment.
    env = _server_env(FORWARDED_ALLOW_IPS="127.0.0.1", LOGIN_FAILURE_LIMIT="2", LOGIN_COOLOFF_MINUTES="0.2")

    with serving_asgi(env, tmp_path / "server.log") as base_url:
        first = Browser(base_url, forwarded_for="198.51.100.7")
        assert [first.log_in("boss", "guess").status for _ in range(2)] == [200, 429]
        assert set(AccessAttempt.objects.values_list("username", "ip_address")) == {("boss", "198.51.100.7")}

        # Another client behind the same proxy is counted apart.
        second = Browser(base_url, forwarded_for="198.51.100.8")
        assert WRONG_PASSWORD_MESSAGE in second.log_in("boss", "guess").body
        _assert_logged_in(second.log_in("boss", PASSWORD))

        # The first client gets in once its 12-second cool-off has passed.
        wait_until(lambda: first.log_in("boss", PASSWORD).status == 302, timeout=90, interval=1, message="the unlock")
        assert first.in_admin()


# --- user + address semantics, with the test client ---------------------------------------------------------


def _post_login(client: Client, address: str, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address)


def _lock_out(username: str, address: str) -> None:
    statuses = [_post_login(Client(), address, username, f"guess-{n}").status_code for n in range(5)]
    assert statuses == [200, 200, 200, 200, 429]


@pytest.mark.django_db
def test_only_the_username_and_address_pair_is_locked_out():
    _superuser("boss")
    _superuser("clerk")
    _lock_out("boss", "10.0.0.1")

    refused = _post_login(Client(), "10.0.0.1", "boss", PASSWORD)
    assert refused.status_code == 429
    assert LOCKED_MESSAGE in refused.content.decode()
    # The same user from another address, and another user from the same address, still log in.
    assert _post_login(Client(), "10.0.0.2", "boss", PASSWORD)["Location"] == "/admin/"
    assert _post_login(Client(), "10.0.0.1", "clerk", PASSWORD)["Location"] == "/admin/"
    assert _post_login(Client(), "10.0.0.1", "boss", PASSWORD).status_code == 429


@pytest.mark.django_db
def test_a_successful_login_resets_the_count():
    _superuser("boss")
    for _ in range(2):
        statuses = [_post_login(Client(), "10.0.0.1", "boss", "guess").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 200]
        assert _post_login(Client(), "10.0.0.1", "boss", PASSWORD)["Location"] == "/admin/"


@pytest.mark.django_db
def test_unknown_usernames_and_odd_addresses_are_counted_and_never_fail():
    # A proxy may pass on something that is not an IP address ("unknown"): counted, never a 500.
    _lock_out("nobody", "unknown")
    _lock_out("boss", "::ffff:10.0.0.9")  # an IPv4 client on a dual-stack socket
    assert _post_login(Client(), "10.0.0.9", "boss", "guess").status_code == 429


@pytest.mark.django_db
def test_superusers_see_the_attempts_in_the_admin():
    _superuser("boss")
    _lock_out("boss", "10.0.0.1")
    admin = Client()
    admin.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = admin.get("/admin/axes/accessattempt/")
    assert page.status_code == 200
    assert "boss" in page.content.decode() and "10.0.0.1" in page.content.decode()


@pytest.mark.django_db
def test_other_ways_in_are_unaffected(monkeypatch):
    _superuser("boss")
    _lock_out("boss", "127.0.0.1")  # the test client's own address

    # The test client's login() and force_login() (no request to count against) still work.
    client = Client()
    assert client.login(username="boss", password=PASSWORD)
    assert not Client().login(username="boss", password="guess")
    forced = Client()
    forced.force_login(get_user_model().objects.get(username="boss"))
    assert forced.get("/admin/").status_code == 200

    # API tokens are not passwords: the locked-out user's token still works.
    boss = get_user_model().objects.get(username="boss")
    token = Token.objects.create(user=boss)
    assert Client().get("/api/v1/warehouses/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200

    # createsuperuser still creates a user who can log in.
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command("createsuperuser", interactive=False, username="newboss", email="newboss@example.com")
    assert _post_login(Client(), "10.0.0.3", "newboss", PASSWORD)["Location"] == "/admin/"


@pytest.mark.parametrize(
    ("name", "value"),
    [("LOGIN_FAILURE_LIMIT", "0"), ("LOGIN_FAILURE_LIMIT", "five"), ("LOGIN_COOLOFF_MINUTES", "soon")],
)
def test_a_bad_lockout_setting_stops_start_up_with_one_line_naming_it(tmp_path, name, value):
    result = _manage("check", env=_embedded_env(tmp_path, **{name: value}))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], result.stderr
