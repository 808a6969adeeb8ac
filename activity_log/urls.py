from api.routers import ProjectRouter

from .views import ActivityLogViewSet

router = ProjectRouter()
router.register("activity_log", ActivityLogViewSet, basename="activity_log")

urlpatterns = router.urls
