"""Login throttling (dashboard/login_throttle.py): failed logins counted
per username and per client address, a lockout refusing even the right
password for the cool-off, without hashing it.

Over real HTTP against `manage.py serve` (daphne, ASGI) with small limits
and the proxy header set, so each test can come from addresses of its own;
the hasher count and the address rules in-process."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.test import Client, RequestFactory

from dashboard import login_throttle
from tests.support import WAIT
from tests.support.served import ServedApp, start_served_app

PASSWORD = "correct-horse-battery"
PER_USERNAME, PER_ADDRESS = 3, 6
USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace")
SETUP = (
    "from django.contrib.auth.models import User\n"
    f"for name in {USERS!r}:\n"
    f"    User.objects.create_user(name, password={PASSWORD!r})\n"
    f"User.objects.create_superuser('admin', password={PASSWORD!r})\n"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[ServedApp]:
    app = start_served_app(
        tmp_path_factory.mktemp("throttle"),
        setup=SETUP,
        extra_env={
            "SWITCHBOARD_LOGIN_FAILURES_PER_USERNAME": str(PER_USERNAME),
            "SWITCHBOARD_LOGIN_FAILURES_PER_ADDRESS": str(PER_ADDRESS),
            "SWITCHBOARD_LOGIN_LOCKOUT_MINUTES": "15",
            "SWITCHBOARD_CLIENT_ADDRESS_HEADER": "X-Forwarded-For",
        },
    )
    yield app
    app.stop()


def csrf_token(http: httpx.Client, path: str) -> str:
    page = http.get(path)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, page.text[:300]
    return token[1]


def log_in(
    served: ServedApp,
    username: str,
    password: str,
    address: str,
    *,
    path: str = "/login/",
) -> httpx.Response:
    """One login through the real form, from `address` (as the proxy in
    front would say in X-Forwarded-For)."""
    headers = {"X-Forwarded-For": address}
    with httpx.Client(base_url=served.url, timeout=WAIT, headers=headers) as http:
        return http.post(
            path,
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": csrf_token(http, path),
            },
        )


def refused(response: httpx.Response) -> bool:
    if response.status_code != 429:
        return False
    assert "Too many failed logins" in response.text
    assert "Try again in 15 minutes" in response.text
    assert "ask an administrator" in response.text
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
    return True


def wrong(response: httpx.Response) -> bool:
    return response.status_code == 200 and "Wrong username or password" in (
        response.text
    )


def test_wrong_passwords_then_the_right_one_is_refused_during_the_cool_off(
    served: ServedApp,
) -> None:
    for _ in range(PER_USERNAME - 1):
        assert wrong(log_in(served, "alice", "guess", "10.0.1.1"))
    # The failure that reaches the limit already gets the lockout page.
    assert refused(log_in(served, "alice", "guess", "10.0.1.1"))
    right = log_in(served, "alice", PASSWORD, "10.0.1.1")
    assert refused(right)
    assert "sessionid" not in right.cookies
    # The page is the site's (its style sheet, no inline script or style)
    # and carries the site's Content-Security-Policy.
    assert 'class="login"' in right.text
    assert "console.css" in right.text
    assert "<script" not in right.text and "style=" not in right.text
    assert "script-src 'self'" in right.headers["Content-Security-Policy"]


def test_another_username_from_the_same_address_still_logs_in(
    served: ServedApp,
) -> None:
    for _ in range(PER_USERNAME):
        log_in(served, "bob", "guess", "10.0.2.1")
    assert refused(log_in(served, "bob", PASSWORD, "10.0.2.1"))
    # The address has PER_USERNAME failures, below its own limit.
    response = log_in(served, "carol", PASSWORD, "10.0.2.1")
    assert response.status_code == 302, response.text[:300]


def test_a_locked_username_is_refused_from_every_address(served: ServedApp) -> None:
    """Guesses spread over many addresses (a botnet) get no more tries at
    one account: the username's lockout holds wherever the login comes
    from."""
    for n in range(PER_USERNAME):
        log_in(served, "dave", "guess", f"10.0.3.{n + 1}")
    assert refused(log_in(served, "dave", PASSWORD, "10.0.3.200"))


def test_a_successful_login_resets_the_usernames_count(served: ServedApp) -> None:
    for _ in range(2):
        for _ in range(PER_USERNAME - 1):
            assert wrong(log_in(served, "erin", "guess", "10.0.4.1"))
        assert log_in(served, "erin", PASSWORD, "10.0.4.1").status_code == 302


def test_an_address_is_locked_after_its_own_limit(served: ServedApp) -> None:
    """Many usernames, a few guesses each, from one address (password
    spraying): the address is locked, for every username; the same users
    still log in from elsewhere."""
    for n in range(PER_ADDRESS - 1):
        assert wrong(log_in(served, f"nobody{n}", "guess", "10.0.5.1"))
    assert refused(log_in(served, "nobody-last", "guess", "10.0.5.1"))
    assert refused(log_in(served, "frank", PASSWORD, "10.0.5.1"))
    assert log_in(served, "frank", PASSWORD, "10.0.5.2").status_code == 302


def test_an_administrator_sees_and_clears_a_lockout(served: ServedApp) -> None:
    for _ in range(PER_USERNAME):
        log_in(served, "Grace", "guess", "10.0.6.1")  # any case: one count
    assert refused(log_in(served, "grace", PASSWORD, "10.0.6.9"))
    headers = {"X-Forwarded-For": "10.0.6.100"}
    with httpx.Client(base_url=served.url, timeout=WAIT, headers=headers) as http:
        token = csrf_token(http, "/admin/login/")
        logged_in = http.post(
            "/admin/login/",
            data={
                "username": "admin",
                "password": PASSWORD,
                "csrfmiddlewaretoken": token,
                "next": "/admin/",
            },
        )
        assert logged_in.status_code == 302, logged_in.text[:300]
        assert 'href="/admin/lockouts/"' in http.get("/admin/").text
        page = http.get("/admin/lockouts/")
        assert page.status_code == 200
        assert "<td>grace</td>" in page.text
        cleared = http.post(
            "/admin/lockouts/",
            data={
                "kind": "username",
                "value": "grace",
                "csrfmiddlewaretoken": http.cookies["csrftoken"],
            },
        )
        assert cleared.status_code == 302, cleared.text[:300]
        page = http.get("/admin/lockouts/")
        assert "Cleared the lockout of username grace" in page.text
        assert "<td>grace</td>" not in page.text
    assert log_in(served, "grace", PASSWORD, "10.0.6.1").status_code == 302


# In-process: the hasher, the admin's login form, the address rules.


class CountingHasher(MD5PasswordHasher):
    """MD5 (fast) counting every hash it computes: checking a password
    (verify) and the stand-in hash for an unknown username both encode."""

    algorithm = "counting_md5"
    hashes: ClassVar[list[str]] = []

    def encode(self, password: str, salt: str) -> str:
        self.hashes.append(password)
        return super().encode(password, salt)


@pytest.fixture
def counting(settings: Any) -> Iterator[list[str]]:
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    settings.LOGIN_FAILURES_PER_USERNAME = PER_USERNAME
    settings.LOGIN_FAILURES_PER_ADDRESS = PER_ADDRESS
    cache.clear()
    CountingHasher.hashes.clear()
    yield CountingHasher.hashes
    cache.clear()


@pytest.mark.django_db
def test_a_flood_on_a_locked_username_computes_no_password_hash(
    counting: list[str],
) -> None:
    User.objects.create_user("sup", password=PASSWORD)
    counting.clear()
    client = Client()
    for _ in range(PER_USERNAME):
        client.post("/login/", {"username": "sup", "password": "guess"})
    assert counting == ["guess"] * PER_USERNAME
    for n in range(200):
        password = PASSWORD if n % 2 else f"guess-{n}"
        response = client.post("/login/", {"username": "sup", "password": password})
        assert response.status_code == 429
    assert counting == ["guess"] * PER_USERNAME  # not one more
    # The admin's login form is the same door.
    response = client.post("/admin/login/", {"username": "sup", "password": PASSWORD})
    assert response.status_code == 429
    assert counting == ["guess"] * PER_USERNAME


@pytest.mark.django_db
def test_a_flood_from_a_locked_address_computes_no_password_hash(
    counting: list[str],
) -> None:
    client = Client(REMOTE_ADDR="10.9.9.9")
    for n in range(PER_ADDRESS):
        client.post("/login/", {"username": f"u{n}", "password": "guess"})
    # Unknown usernames cost one hash each too (Django's timing guard).
    assert len(counting) == PER_ADDRESS
    for n in range(200):
        response = client.post("/login/", {"username": f"v{n}", "password": "x"})
        assert response.status_code == 429
    assert len(counting) == PER_ADDRESS


@pytest.mark.django_db
def test_the_test_clients_login_is_not_throttled(counting: list[str]) -> None:
    """Without a request (Client.login(), a shell) nothing is counted."""
    User.objects.create_user("sup", password=PASSWORD)
    client = Client()
    for _ in range(PER_USERNAME + 1):
        assert not client.login(username="sup", password="guess")
    assert client.login(username="sup", password=PASSWORD)
    assert login_throttle.lockouts() == []


def test_the_address_is_remote_addr_unless_a_proxy_header_is_named(settings) -> None:
    request = RequestFactory().post(
        "/login/",
        REMOTE_ADDR="10.1.1.1",
        HTTP_X_FORWARDED_FOR="6.6.6.6",
        HTTP_X_REAL_IP="7.7.7.7",
    )
    settings.LOGIN_CLIENT_ADDRESS_HEADER = ""
    assert login_throttle.client_address(request) == "10.1.1.1"
    settings.LOGIN_CLIENT_ADDRESS_HEADER = "X-Real-IP"
    assert login_throttle.client_address(request) == "7.7.7.7"
    settings.LOGIN_CLIENT_ADDRESS_HEADER = "X-Forwarded-For"
    assert login_throttle.client_address(request) == "6.6.6.6"
    # A list: the last entry, the one the proxy in front appended (a client
    # can put anything before it).
    request.META["HTTP_X_FORWARDED_FOR"] = "1.2.3.4, 6.6.6.6"
    assert login_throttle.client_address(request) == "6.6.6.6"
    # The header missing (a request that did not come through the proxy).
    del request.META["HTTP_X_FORWARDED_FOR"]
    assert login_throttle.client_address(request) == "10.1.1.1"


@pytest.mark.django_db
def test_only_administrators_see_the_lockouts(counting: list[str]) -> None:
    staff = User.objects.create_user("staff", password=PASSWORD, is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/lockouts/").status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="change_user"))
    for _ in range(PER_USERNAME):
        Client(REMOTE_ADDR="10.8.8.8").post(
            "/login/", {"username": "Target", "password": "guess"}
        )
    page = client.get("/admin/lockouts/")
    assert page.status_code == 200
    assert "<td>target</td>" in page.content.decode()
    client.post("/admin/lockouts/", {"kind": "username", "value": "TARGET"})
    assert login_throttle.lockouts() == []
