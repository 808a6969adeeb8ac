"""The round trip with datamodel-code-generator's pydantic v2 models (default flags) and httpx,
against a live server. `models.py` is generated next to this file from the served description;
nothing is edited. Every body the server answers is parsed by its model, errors included.

Run with BASE_URL, API_KEY and PROJECT_ID set (tests/api/test_generated_datamodel_client.py)."""

import os

import httpx
from models import (
    Error,
    ItemActivityPage,
    PaginatedSignalSourceConfigList,
    PatchedSignalSourceConfigRequest,
    SignalSourceConfig,
    SignalSourceConfigRequest,
    SignalSourceConfigSourceTypeEnum,
    SourceProductEnum,
)


def check(condition: bool, message: str, value=None) -> None:
    if not condition:
        raise SystemExit(f"{message}: {value!r}")


def body(model) -> dict:
    # What a client means to send: the fields it set (a field left out keeps its value in a PATCH).
    return model.model_dump(mode="json", exclude_unset=True)


def main() -> None:
    project = os.environ["PROJECT_ID"]
    headers = {"Authorization": f"Bearer {os.environ['API_KEY']}"}
    with httpx.Client(base_url=os.environ["BASE_URL"], headers=headers, timeout=30) as client:
        configs = f"/api/projects/{project}/signal_source_configs/"

        empty = PaginatedSignalSourceConfigList.model_validate_json(client.get(configs).content)
        check(empty.count == 0 and empty.next is None and empty.results == [], "empty list", empty)

        request = SignalSourceConfigRequest(
            source_product=SourceProductEnum.linear,
            source_type=SignalSourceConfigSourceTypeEnum.issue,
            config={"linear_team_ids": [" team-a "], "steering": "Bugs only."},
        )
        response = client.post(configs, json=body(request))
        check(response.status_code == 201, "create", response.text)
        created = SignalSourceConfig.model_validate_json(response.content)
        check(created.enabled is True and created.status is None, "create defaults", created)
        check(created.config.linear_team_ids[0].root == "team-a", "create trims team ids", created.config)

        item = f"{configs}{created.id}/"
        fetched = SignalSourceConfig.model_validate_json(client.get(item).content)
        check(fetched.id == created.id, "retrieve", fetched)

        listed = PaginatedSignalSourceConfigList.model_validate_json(client.get(configs).content)
        check(listed.count == 1 and listed.results[0].id == created.id, "list", listed)

        change = PatchedSignalSourceConfigRequest(enabled=False, config={"default_not_actionable": True})
        response = client.patch(item, json=body(change))
        check(response.status_code == 200, "patch", response.text)
        patched = SignalSourceConfig.model_validate_json(response.content)
        check(patched.enabled is False and patched.config.default_not_actionable is True, "patch", patched)

        # A 400 parses as the Error model, `attr` a string; a 404's `attr` is null.
        response = client.patch(item, json={"config": {"linear_team_ids": [""]}})
        check(response.status_code == 400, "bad patch", response.text)
        error = Error.model_validate_json(response.content)
        check(error.attr == "config" and "linear_team_ids" in error.detail, "typed 400", error)

        history = ItemActivityPage.model_validate_json(client.get(f"{item}activity/").content)
        check(history.total_count == 2 and history.results[0].activity == "updated", "activity", history)
        check(history.results[0].user is not None, "activity record's user", history.results[0])

        check(client.delete(item).status_code == 204, "delete")
        response = client.get(item)
        gone = Error.model_validate_json(response.content)
        check(response.status_code == 404 and gone.code == "not_found" and gone.attr is None, "gone", gone)
    print("datamodel-code-generator round trip: ok")


if __name__ == "__main__":
    main()
