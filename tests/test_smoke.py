def test_create_and_list(tenant):
    response = tenant.client.post(tenant.url, {"source_product": "github", "source_type": "issue"}, format="json")
    assert response.status_code == 201, response.json()
    response = tenant.client.get(tenant.url)
    assert response.status_code == 200, response.json()
    assert response.json()["count"] == 1
