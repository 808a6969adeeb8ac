from api.routers import ProjectRouter

from .views import SignalSourceConfigViewSet

router = ProjectRouter()
router.register("signal_source_configs", SignalSourceConfigViewSet, basename="signal_source_configs")

urlpatterns = router.urls
