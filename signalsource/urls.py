from api.routers import ProjectRouter

from .views import SignalSourceConfigViewSet, SignalsSourceConfigViewSet

router = ProjectRouter()
router.register("signal_source_configs", SignalSourceConfigViewSet, basename="signal_source_configs")
# Today's PostHog route, on the same rows; the basename gives PostHog's operation ids
# (`signals_source_configs_list`, ...).
router.register("signals/source_configs", SignalsSourceConfigViewSet, basename="signals_source_configs")

urlpatterns = router.urls
