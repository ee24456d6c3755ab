from django.apps import AppConfig


class SentieroConfig(AppConfig):
    name = "sentiero.contrib.django"
    label = "sentiero"
    verbose_name = "Sentiero"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from sentiero.contrib.django import checks, conf

        checks.register()

        def changed(setting: str, **kwargs: object) -> None:
            if setting in ("SENTIERO", "DATABASES"):
                conf.reset()

        setting_changed.connect(changed, weak=False, dispatch_uid="sentiero-settings")
