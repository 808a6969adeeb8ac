"""The operators' Django admin (issue 8) for organizations, projects, users and their memberships,
with Django's test client."""

import pytest

from projects.models import Organization, OrganizationMembership, Project
from tests.helpers import admin_url, changelist_rows, make_organization, make_project, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]


# --- Organizations, projects, users ------------------------------------------------------------


def test_organization_pages_and_members_inline(admin_client):
    member = make_user("member@example.com")
    response = admin_client.post(
        admin_url("projects_organization_add"),
        {
            "name": "Acme",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-0-user": str(member.pk),
            "projects-TOTAL_FORMS": "1",
            "projects-INITIAL_FORMS": "0",
            "projects-0-name": "Website",
        },
    )
    assert response.status_code == 302, response.context["errors"] if response.context else response
    organization = Organization.objects.get(name="Acme")
    assert list(organization.members.all()) == [member]
    assert list(organization.projects.values_list("name", flat=True)) == ["Website"]

    response = admin_client.get(admin_url("projects_organization_changelist"), {"q": "acm"})
    assert response.status_code == 200
    [row] = changelist_rows(response)
    assert (row.member_count, row.project_count) == (1, 1)
    response = admin_client.get(admin_url("projects_organization_change", organization.pk))
    assert response.status_code == 200
    assert "member@example.com" in response.text


def test_project_pages_show_members_and_search_by_name_and_id(admin_client):
    member = make_user("dev@example.com")
    organization = make_organization("Initech")
    project = make_project(organization, members=[member], name="Payments")
    other = make_project(name="Marketing")

    response = admin_client.post(
        admin_url("projects_project_add"), {"name": "Billing", "organization": organization.pk}
    )
    assert response.status_code == 302
    assert Project.objects.filter(name="Billing", organization=organization).exists()

    response = admin_client.get(admin_url("projects_project_change", project.pk))
    assert response.status_code == 200
    assert "dev@example.com" in response.text
    assert admin_url("projects_organization_change", organization.pk) in response.text

    response = admin_client.get(admin_url("projects_project_changelist"), {"q": "paym"})
    assert changelist_rows(response) == [project]
    response = admin_client.get(admin_url("projects_project_changelist"), {"q": str(other.pk)})
    assert changelist_rows(response) == [other]
    response = admin_client.get(admin_url("projects_project_changelist"), {"q": "not-a-number"})
    assert response.status_code == 200
    assert changelist_rows(response) == []
    response = admin_client.get(admin_url("projects_project_changelist"), {"organization__id__exact": organization.pk})
    assert set(changelist_rows(response)) == {project, Project.objects.get(name="Billing")}


def test_user_pages_show_and_edit_memberships(admin_client):
    user = make_user("ops@example.com")
    organization = make_organization()
    response = admin_client.get(admin_url("auth_user_changelist"), {"q": "ops@"})
    assert response.status_code == 200
    assert changelist_rows(response) == [user]
    response = admin_client.get(admin_url("auth_user_change", user.pk))
    assert response.status_code == 200
    assert "organization membership" in response.text.lower()

    form = response.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "password"}
    data.update(
        {
            "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-0-organization": str(organization.pk),
        }
    )
    data.pop("date_joined")
    data.pop("last_login", None)
    data.pop("groups")
    data.pop("user_permissions")
    response = admin_client.post(admin_url("auth_user_change", user.pk), data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    assert OrganizationMembership.objects.filter(user=user, organization=organization).exists()


def test_autocomplete_finds_organizations_projects_and_users(admin_client):
    organization = make_organization("Acme")
    project = make_project(organization, name="Checkout")
    user = make_user("developer@example.com")
    for model, field_name, term, expected in (
        ("project", "organization", "acm", organization),
        ("signalsourceconfig", "project", "checkout", project),
        ("personalapikey", "user", "developer@", user),
    ):
        app_label = {"project": "projects", "signalsourceconfig": "signalsource", "personalapikey": "auth_keys"}[model]
        response = admin_client.get(
            admin_url("autocomplete"),
            {"term": term, "app_label": app_label, "model_name": model, "field_name": field_name},
        )
        assert response.status_code == 200, response.content
        assert [item["id"] for item in response.json()["results"]] == [str(expected.pk)]
