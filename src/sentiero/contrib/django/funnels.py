"""``DjangoStore``'s saved funnels (stores/saved_funnels.py has the document; the table is
models.py's ``StoredFunnel``, migration 0003): one row per funnel holding its JSON document,
as the SQL store keeps them. Erasing sessions leaves them."""

from __future__ import annotations

from datetime import timezone
from typing import Any

from sentiero.contrib.django.models import StoredFunnel
from sentiero.stores.base import StoreError
from sentiero.stores.saved_funnels import MAX_SAVED, SavedFunnel, sorted_funnels


class DjangoSavedFunnels:
    """Mixed into DjangoStore (which provides ``using`` and ``_run``)."""

    using: str
    _run: Any

    def _funnel_rows(self) -> Any:
        return StoredFunnel.objects.using(self.using)

    def save_funnel(self, funnel: SavedFunnel) -> None:
        doc = funnel.to_json().decode()
        created = int(funnel.created_at.astimezone(timezone.utc).timestamp() * 1_000_000)

        def work() -> None:
            rows = self._funnel_rows()
            if rows.filter(funnel_id=funnel.funnel_id).update(data_json=doc):
                return
            if rows.count() >= MAX_SAVED:
                raise StoreError(f"at most {MAX_SAVED} saved funnels")
            rows.create(funnel_id=funnel.funnel_id, created_us=created, data_json=doc)

        self._run(work)

    def list_funnels(self) -> list[SavedFunnel]:
        def work() -> list[SavedFunnel]:
            docs = self._funnel_rows().values_list("data_json", flat=True)
            return sorted_funnels([SavedFunnel.from_json(d) for d in docs])

        return self._run(work, atomic=False)

    def delete_funnel(self, funnel_id: str) -> bool:
        def work() -> bool:
            deleted, _ = self._funnel_rows().filter(funnel_id=funnel_id).delete()
            return deleted > 0

        return self._run(work)
