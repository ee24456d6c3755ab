from __future__ import annotations

import pytest
from contract import POSTGRES_URL, require_server
from test_sql_common import ServerSQLStoreTests

pytestmark = pytest.mark.backend


class TestPostgres(ServerSQLStoreTests):
    @pytest.fixture(autouse=True)
    def _server(self) -> None:
        require_server(POSTGRES_URL)

    def url(self) -> str:
        return POSTGRES_URL

    def test_driver_is_psycopg3(self, store) -> None:
        assert store.engine.dialect.driver == "psycopg"
