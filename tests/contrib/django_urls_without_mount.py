urlpatterns: list = []  # a project that forgot the mount
