"""Admin login brute force (issue 12, row 2; issue 25, row 10): django-axes counts failed logins in the
database, per username and client address together; at the limit even the right password is refused, with a page that
says so, until the cool-off ends or an operator unlocks."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from tests.helpers import make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff():
    user = make_user()
    user.is_staff = True
    user.is_superuser = True
    user.set_password(PASSWORD)
    user.save()
    return user


def login(username, password, address="10.1.1.1"):
    client = Client(REMOTE_ADDR=address)
    response = client.post(LOGIN, {"username": username, "password": password})
    return response, client


def logged_in(client) -> bool:
    return client.get("/admin/").status_code == 200


def test_wrong_passwords_lock_that_username_from_that_address_and_then_the_right_one_is_refused(staff):
    limit = settings.AXES_FAILURE_LIMIT
    statuses = [login(staff.username, f"wrong-{i}", "10.0.0.1")[0].status_code for i in range(limit)]
    assert statuses == [200] * (limit - 1) + [429]

    response, client = login(staff.username, PASSWORD, "10.0.0.1")

    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed logins" in page
    assert "Even the correct password is refused" in page
    assert not logged_in(client)
    # Counted in the database, which every instance shares.
    assert AccessAttempt.objects.filter(username=staff.username).exists()


def test_failures_from_one_address_lock_no_other_admin_behind_it(staff):
    """Issue 25 row 10: every client behind a load balancer without CLIENT_IP_HEADER has one address;
    someone's failures there must not lock every admin out (the lock is on username and address together)."""
    for i in range(settings.AXES_FAILURE_LIMIT):
        login(f"guess-{i}", "wrong", "10.2.2.2")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login("someone-else", "wrong", "10.2.2.2")

    response, client = login(staff.username, PASSWORD, "10.2.2.2")
    assert response.status_code == 302
    assert logged_in(client)


def test_failures_from_other_addresses_do_not_lock_a_named_admin_out(staff):
    for i in range(settings.AXES_FAILURE_LIMIT):
        login(staff.username, "wrong", f"10.5.5.{i}")

    response, client = login(staff.username, PASSWORD, "10.6.6.6")
    assert response.status_code == 302
    assert logged_in(client)


def test_an_operator_unlocks_with_axes_reset_username(staff):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(staff.username, "wrong", "10.4.4.4")
    assert login(staff.username, PASSWORD, "10.4.4.4")[0].status_code == 429

    call_command("axes_reset_username", staff.username)

    response, client = login(staff.username, PASSWORD, "10.4.4.4")
    assert response.status_code == 302
    assert logged_in(client)


def test_a_success_before_the_limit_starts_the_count_again(staff):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(staff.username, "wrong")
    assert login(staff.username, PASSWORD)[0].status_code == 302
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(staff.username, "wrong")[0].status_code == 200
    assert login(staff.username, PASSWORD)[0].status_code == 302
