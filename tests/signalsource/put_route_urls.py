"""A URLconf for tests: the service's own routes plus a config route that takes PUT, built the way
PostHog's current route (`signals/source_configs`, a full ModelViewSet) is. The conditional-request
rules live in the shared viewset, so PUT is tested here before that route lands; once it has, its
prefix joins `PUT_ROUTES` in the tests and this stand-in can go."""

from api.routers import ProjectRouter
from config.urls import handler400, handler403, handler404, handler500, urlpatterns  # noqa: F401
from signalsource.views import SignalSourceConfigViewSet

PUT_ROUTE = "put_source_configs"


class PutConfigViewSet(SignalSourceConfigViewSet):
    http_method_names = [*SignalSourceConfigViewSet.http_method_names, "put"]


router = ProjectRouter()
router.register(PUT_ROUTE, PutConfigViewSet, basename=PUT_ROUTE)
urlpatterns = [*router.urls, *urlpatterns]
