from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Dashboard"

    def ready(self) -> None:
        from dashboard.access import connect_signals
        from dashboard.login_throttle import connect_signals as connect_throttle
        from dashboard.wall_tokens import connect_signals as connect_walls

        connect_signals()
        connect_throttle()
        connect_walls()
