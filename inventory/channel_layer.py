"""The channel layer: channels-redis, with a Redis connection pool that waits for a free connection.

channels-redis builds a plain ``redis.asyncio.ConnectionPool`` per host and event loop. In redis-py 8
that pool holds at most 100 connections (``max_connections`` defaults to 100) and raises
``MaxConnectionsError`` at once when all are in use. Every Redis command of the layer takes a connection
from it for its round trip (``group_add`` is two), so a few hundred clients subscribing in the same
instant (every deploy, every Redis restart: all clients reconnect together) need more than 100 at once,
and the ones over the limit failed. A ``BlockingConnectionPool`` keeps the number of connections bounded
and makes a command wait its turn instead; each round trip takes well under a millisecond, so the wait
is short. Only a pool that stays exhausted for ``pool_timeout`` seconds fails (``ConnectionError``).
"""

from __future__ import annotations

from typing import Any

from channels_redis.core import RedisChannelLayer as BaseRedisChannelLayer
from redis.asyncio import BlockingConnectionPool

DEFAULT_POOL_TIMEOUT = 10.0


class RedisChannelLayer(BaseRedisChannelLayer):
    """channels-redis' layer; a host given by ``address`` gets a blocking pool.

    Extra keys of such a host entry: ``max_connections`` (the pool's size) and ``pool_timeout`` (seconds
    a command waits for a free connection); the rest are redis-py connection options, as before.
    """

    def create_pool(self, index: int) -> Any:
        host = dict(self.hosts[index])
        if "address" not in host:
            return super().create_pool(index)  # sentinel and host/port entries: channels-redis' own pools
        address = host.pop("address")
        timeout = host.pop("pool_timeout", DEFAULT_POOL_TIMEOUT)
        return BlockingConnectionPool.from_url(address, timeout=timeout, **host)
