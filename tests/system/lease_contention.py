"""Many engine clients against live app processes at once: who gets which account, and who wins a race.

Shared by the PostgreSQL + Redis system test (tests/system/test_lease_contention.py) and the
embedded-defaults one (sessions_admin/tests/test_lease_contention.py).
"""

import functools
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

ACCOUNTS = 20
CLIENTS = 40
ROUNDS = 20


def _session(secret):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {secret}"
    # gunicorn closes an idle keep-alive connection after 2 s; a request sent on it as it closes
    # is reset. A connection per request keeps the race out of the figures.
    session.headers["Connection"] = "close"
    return session


def _concurrently(jobs):
    """Run the callables in `jobs` at once (released together by a barrier); return their results in order."""
    barrier = threading.Barrier(len(jobs))

    def run(job):
        barrier.wait(timeout=60)
        return job()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def lease_rounds(servers, secret, *, accounts=ACCOUNTS, clients=CLIENTS, rounds=ROUNDS):
    """Run `rounds` rounds of `clients` concurrent one-account grants over `servers`, releasing between rounds.

    Returns the problems found (an empty list when every round granted each
    account exactly once and answered the other clients with an empty list,
    and every account's fence went up by one each round).
    """
    sessions = [_session(secret) for _ in range(clients)]
    problems = []
    last_fence = {}
    for number in range(rounds):
        jobs = [functools.partial(_grant, session, servers[i % len(servers)]) for i, session in enumerate(sessions)]
        answers = _concurrently(jobs)
        statuses = Counter(status for status, _ in answers)
        if statuses != {201: clients}:
            problems.append(f"round {number}: statuses {dict(statuses)}")
            continue
        granted = [lease for _, leases in answers for lease in leases]
        names = Counter(lease["session"]["name"] for lease in granted)
        empty = sum(1 for _, leases in answers if not leases)
        if len(granted) != accounts or len(names) != accounts or empty != clients - accounts:
            duplicates = {name: count for name, count in names.items() if count > 1}
            problems.append(
                f"round {number}: {len(granted)} leases, {len(names)} accounts, {empty} empty, {duplicates}"
            )
        for lease in granted:
            name = lease["session"]["name"]
            if lease["fence"] != last_fence.get(name, 0) + 1:
                problems.append(f"round {number}: {name} fence {lease['fence']} after {last_fence.get(name, 0)}")
            last_fence[name] = lease["fence"]
        released = _concurrently(
            [
                (lambda lease=lease, i=i: _post(sessions[i], servers[i % len(servers)], lease["id"], "release"))
                for i, lease in enumerate(granted)
            ]
        )
        if set(released) != {204}:
            problems.append(f"round {number}: releases answered {Counter(released)}")
    return problems


def _grant(session, server):
    response = session.post(f"{server.url}/api/engine/leases", json={"count": 1, "ttl": 60}, timeout=60)
    return response.status_code, response.json().get("leases", []) if response.status_code == 201 else []


def _post(session, server, lease_id, action):
    return session.post(f"{server.url}/api/engine/leases/{lease_id}/{action}", json={}, timeout=60).status_code


def release_race(servers, secret, *, racers=10):
    """Lease one account and release it from `racers` clients at once; return the statuses, sorted."""
    first = _session(secret)
    [lease] = first.post(f"{servers[0].url}/api/engine/leases", json={"count": 1}, timeout=60).json()["leases"]
    sessions = [_session(secret) for _ in range(racers)]
    return sorted(
        _concurrently(
            [
                (lambda s=s, i=i: _post(s, servers[i % len(servers)], lease["id"], "release"))
                for i, s in enumerate(sessions)
            ]
        )
    )


def renew_release_race(servers, secret, *, racers=10):
    """Lease one account, then renew and release it from `racers` clients at once.

    Returns (renew statuses, release statuses, whether the account can be
    leased again afterwards): a renew that lands after the release must lose,
    so the account is free at the end.
    """
    first = _session(secret)
    [lease] = first.post(f"{servers[0].url}/api/engine/leases", json={"count": 1}, timeout=60).json()["leases"]
    sessions = [_session(secret) for _ in range(racers)]
    actions = ["renew" if i % 2 else "release" for i in range(racers)]
    answers = _concurrently(
        [
            (lambda s=s, i=i: (actions[i], _post(s, servers[i % len(servers)], lease["id"], actions[i])))
            for i, s in enumerate(sessions)
        ]
    )
    renews = sorted(status for action, status in answers if action == "renew")
    releases = sorted(status for action, status in answers if action == "release")
    again = first.post(f"{servers[1 % len(servers)].url}/api/engine/leases", json={"count": 1}, timeout=60).json()
    free_again = bool(again["leases"]) and again["leases"][0]["session"]["name"] == lease["session"]["name"]
    return renews, releases, free_again
