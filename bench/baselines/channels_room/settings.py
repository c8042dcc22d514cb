"""Baseline: the Channels tutorial's room app, nothing more (no auth, no store, no acks).

The layer comes from BENCH_LAYER: ``memory``, ``redis`` (RedisChannelLayer) or ``pubsub``
(RedisPubSubChannelLayer), with Redis at BENCH_REDIS_URL.
"""

import os

SECRET_KEY = "benchmark-baseline"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["channels"]
ASGI_APPLICATION = "bench.baselines.channels_room.asgi.application"
USE_TZ = True

_layer = os.environ.get("BENCH_LAYER", "memory")
_redis = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
CHANNEL_LAYERS = {
    "memory": {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}},
    "redis": {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": _redis, "max_connections": 2000}]},
        }
    },
    "pubsub": {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": _redis, "max_connections": 2000}]},
        }
    },
}[_layer]
