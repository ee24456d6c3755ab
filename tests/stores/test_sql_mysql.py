from __future__ import annotations

import pytest
from contract import MYSQL_URL, require_server
from test_sql_common import ServerSQLStoreTests

from sentiero.stores.base import WindowRef

pytestmark = pytest.mark.backend


class TestMySQL(ServerSQLStoreTests):
    @pytest.fixture(autouse=True)
    def _server(self) -> None:
        require_server(MYSQL_URL)

    def url(self) -> str:
        return MYSQL_URL

    def test_driver_and_charset(self, store) -> None:
        assert store.engine.dialect.driver == "pymysql"
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT @@character_set_client").scalar() == "utf8mb4"
            create = conn.exec_driver_sql(f"SHOW CREATE TABLE {store.tables.chunks.name}").one()[1]
        assert "longblob" in create.lower()

    def test_ids_are_case_sensitive(self, store) -> None:
        from contract import batch

        assert store.save_batch(batch("CaseId", seq=0))
        assert store.save_batch(batch("caseid", seq=0))
        assert store.get_session("CASEID") is None
        assert len(store.chunk_index(WindowRef("caseid", "w1"))) == 1
