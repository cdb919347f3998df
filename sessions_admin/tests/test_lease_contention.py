"""One holder under contention on the embedded defaults: two gunicorn processes sharing one SQLite file.

SQLite has no row locks: every transaction begins IMMEDIATE (settings.py), so
grants from both processes run one at a time. The PostgreSQL + Redis run of
the same checks is tests/system/test_lease_contention.py.
"""

import pytest

from tests.security.live import manage, prepare_database, private_env
from tests.system import lease_contention
from tests.system.servers import AppServer

ROWS = (
    "from django.utils import timezone; from sessions_admin.models import SessionFile; "
    "SessionFile.objects.bulk_create(SessionFile(filename=f'acct-{i:02}.session', library='telethon', "
    "layout='telethon-7', dc_id=2, size=1, sha256='0' * 64, uploaded_at=timezone.now(), uploaded_by='test') "
    "for i in range({count}))"
)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    directory = tmp_path_factory.mktemp("leases")
    env = private_env(directory)
    prepare_database(env)
    manage(env, "shell", "-c", ROWS.replace("{count}", str(lease_contention.ACCOUNTS)))
    secret = manage(env, "create_service_token", "contention", "--scope", "engine").strip()
    servers = [AppServer(env) for _ in range(2)]
    try:
        yield servers, secret
    finally:
        for server in servers:
            server.stop()


def test_forty_clients_share_twenty_accounts_without_one_duplicate_in_twenty_rounds(embedded):
    servers, secret = embedded
    assert lease_contention.lease_rounds(servers, secret) == []


def test_a_release_race_has_one_winner(embedded):
    servers, secret = embedded
    assert lease_contention.release_race(servers, secret) == [204] + [409] * 9


def test_a_renew_racing_a_release_never_keeps_the_account(embedded):
    servers, secret = embedded
    renews, releases, free_again = lease_contention.renew_release_race(servers, secret)
    assert releases == [204] + [409] * 4
    assert set(renews) <= {200, 409}
    assert free_again
