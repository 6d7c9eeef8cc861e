from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from dashboard import history, login_throttle, replay, views, wall

urlpatterns = [
    path("", views.console, name="console"),
    path("directory.json", views.directory, name="directory"),
    # The live call wall: no login, its token opens it (dashboard.wall).
    path("wall/", wall.wall_page, name="wall"),
    # Floor replay from the call journal (dashboard.replay).
    path("replay/", replay.replay_page, name="replay"),
    path("replay/floor.json", replay.floor_json, name="replay_floor"),
    path("replay/changes.json", replay.changes_json, name="replay_changes"),
    # Call history for supervisors (dashboard.history).
    path("history/", history.history_list, name="history"),
    path("history/export.csv", history.history_export, name="history_export"),
    path(
        "history/<str:telephony_session_id>/", history.history_call, name="history_call"
    ),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
    path(
        "admin/lockouts/",
        admin.site.admin_view(login_throttle.lockouts_view),
        name="login_lockouts",
    ),
    path("admin/", admin.site.urls),
]
