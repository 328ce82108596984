"""The login limit counts in Redis when RATELIMIT_STORAGE_URI points there, so every
worker and host shares one count."""

import os
import uuid

import pytest
import redis

from app import create_app
from app.extensions import db, limiter
from tests.factories import UserFactory

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: Redis must be reachable at {REDIS_URL}")
        pytest.skip(f"no Redis at {REDIS_URL}")
    yield client
    client.close()


def test_failed_logins_are_counted_in_redis_across_app_instances(app, redis_client):
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    settings = {
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": prefix,
    }
    UserFactory(email="a@example.org")
    first_worker, second_worker = create_app(settings), create_app(settings)
    test_connection = db.engines[None]  # the per-test connection holding the transaction
    for worker in (first_worker, second_worker):
        with worker.app_context():
            db.engines[None] = test_connection
    body = {"email": "a@example.org", "password": "wrong"}
    try:
        one, two = first_worker.test_client(), second_worker.test_client()
        for client in (one, two, one, two, one):
            assert client.post("/api/v1/tokens", json=body).status_code == 401
        assert two.post("/api/v1/tokens", json=body).status_code == 429
        assert redis_client.keys(f"*{prefix}*")
    finally:
        for key in redis_client.keys(f"*{prefix}*"):
            redis_client.delete(key)
        limiter.init_app(app)  # rebind the shared limiter to the suite's memory store
        db.session.remove()
