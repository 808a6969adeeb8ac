"""The operators' Django admin site (issue 8): its index, its login, and its static files."""

import re

import pytest

from tests.helpers import admin_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]


# --- Pages ------------------------------------------------------------------------------------


def test_index_lists_every_model(admin_client):
    response = admin_client.get(admin_url("index"))
    assert response.status_code == 200
    for name in ("Organizations", "Projects", "Users", "Personal API keys", "Signal source configs"):
        assert name in response.text


def test_admin_needs_a_staff_login(client):
    response = client.get(admin_url("signalsource_signalsourceconfig_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(admin_url("login"))


def test_static_files_are_served_by_the_service(client):
    """Whitenoise serves the admin's hashed assets from the app itself, no network needed."""
    page = client.get(admin_url("login")).text
    stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]+\.css)"', page).group(1)
    response = client.get(stylesheet)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert b"body" in b"".join(response.streaming_content)


def test_view_site_leads_to_the_api_docs_not_a_404(admin_client):
    from django.contrib import admin

    page = admin_client.get("/admin/").content.decode()
    assert f'href="{admin.site.site_url}"' in page
    assert admin_client.get(admin.site.site_url).status_code == 200


def test_keys_breadcrumb_does_not_repeat_itself(admin_client):
    page = admin_client.get("/admin/auth_keys/personalapikey/").content.decode()
    breadcrumbs = page.split('<div class="breadcrumbs">', 1)[1].split("</div>", 1)[0]
    assert "API keys</a>" in breadcrumbs and breadcrumbs.count("Personal API keys") == 1
