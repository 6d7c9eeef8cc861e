from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TelephonyConfig(AppConfig):
    name = "telephony"
    verbose_name = "Telephony"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from telephony.roles import roles_after_migrate

        post_migrate.connect(
            roles_after_migrate, sender=self, dispatch_uid="telephony-roles"
        )
