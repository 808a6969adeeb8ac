from rest_framework.routers import SimpleRouter


class ProjectRouter(SimpleRouter):
    """Routes viewsets under `api/projects/{project_id}/`, the trailing slash optional on every
    route, as PostHog's API accepts both."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"

    def register(self, prefix, viewset, basename=None):
        super().register(rf"api/projects/(?P<project_id>[^/]+)/{prefix}", viewset, basename)
