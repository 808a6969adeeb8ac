from api.routers import ProjectRouter

from .views import SignalSourceConfigViewSet, SignalSourceRunViewSet, SignalsSourceConfigViewSet

router = ProjectRouter()
router.register("signal_source_configs", SignalSourceConfigViewSet, basename="signal_source_configs")
# Today's PostHog route, on the same rows; the basename gives PostHog's operation ids
# (`signals_source_configs_list`, ...).
# A config's processing runs, under today's route only (issue 27).
router.register(
    r"signals/source_configs/(?P<config_id>[^/.]+)/runs", SignalSourceRunViewSet, basename="signals_source_config_runs"
)
router.register("signals/source_configs", SignalsSourceConfigViewSet, basename="signals_source_configs")

urlpatterns = router.urls
