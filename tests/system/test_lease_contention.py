"""One holder under contention: two gunicorn processes on PostgreSQL + Redis (SELECT … FOR UPDATE SKIP LOCKED)."""

from adbot_admin import service_tokens
from sessions_admin.tests.factories import SessionFileFactory

from . import lease_contention


def test_leases_stay_exclusive_across_two_processes(app_servers):
    SessionFileFactory.create_batch(lease_contention.ACCOUNTS)
    secret = service_tokens.service_token_create(name="contention", scopes=["engine"]).secret

    assert lease_contention.lease_rounds(app_servers, secret) == []
    assert lease_contention.release_race(app_servers, secret) == [204] + [409] * 9
    renews, releases, free_again = lease_contention.renew_release_race(app_servers, secret)
    assert releases == [204] + [409] * 4
    assert set(renews) <= {200, 409}
    assert free_again
