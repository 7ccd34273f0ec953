"""Redis channel layers (Redis >= 7.0): ``RedisChannelLayer`` and ``RedisSentinelChannelLayer``.

Theory of operation
    Every layer operation is one round trip to each shard it touches, and every multi-step
    change happens inside one Lua script, so a crash between two steps cannot lose or
    duplicate a message:

    ==========================  ===============================================================
    operation                   commands
    ==========================  ===============================================================
    send                        1 ``EVALSHA`` (drop expired heads if full, capacity check,
                                ``RPUSH`` the envelope, ``PEXPIRE`` the list, count stats)
    receive, non-blocking       1 ``EVALSHA`` per shard until enough (``LPOP`` with count,
                                expired entries skipped)
    receive, blocking           1 ``BLMPOP ... COUNT n`` per shard, all shards at once
    send_many                   1 pipelined round trip per shard
    group_add / group_discard   1 ``EVALSHA``
    send_group                  1 ``EVALSHA`` per shard (prune expired members, push an
                                envelope to every member, skip and count full ones)
    flush                       ``SCAN`` + ``UNLINK`` per shard (never ``KEYS``)
    ==========================  ===============================================================

    Messages travel inline in the lists as envelopes (see :mod:`.serializers`): deadline,
    redelivery ``attempts``, full channel name, then the msgpack body (Fernet-encrypted when
    keys are configured).  There is no separate body key, so nothing is left behind when a
    message is received or expires, and a message past its deadline is never delivered: the
    receive scripts and the blocking path both check the deadline on pop.

Key layout (``prefix`` defaults to ``asgi:``, ``stats_prefix`` to ``asgi-meta:``)
    =========================================  ============  =======================================
    key                                        type          lifetime
    =========================================  ============  =======================================
    ``<prefix><channel>``                      list          ``expiry`` + 1 s after the last push
    ``<prefix><name>!`` (all ``name!*``        list          same; one list per receiving process
    channels of one process)
    ``<prefix>group:<group>``                  sorted set    ``group_expiry`` after the last add;
                                                             member = channel, score = add time
    ``<prefix>groupcap:<group>``               hash          same; member → capacity, only for
                                                             members whose capacity differs from
                                                             the default rule
    ``<stats_prefix>#global#``                 hash          24 h after the last update
    ``<stats_prefix><channel>``                hash          1 h after the last update (not for
                                                             ``?`` channels)
    =========================================  ============  =======================================

Sharding
    With several hosts, ``!`` and ``?`` channels and group members live on the shard chosen
    by rendezvous hashing of their (non-local) name; each shard holds the group memberships of
    its own channels, so a group send is one script per shard.  Normal channels are spread
    over all shards on send (each shard holds a share of the capacity) and receivers wait on
    every shard at once.
"""

from __future__ import annotations

from .config import UnsupportedRedis, check_redis_version, parse_hosts, parse_redis_version
from .core import RedisChannelLayer
from .sentinel import RedisSentinelChannelLayer

__all__ = [
    "RedisChannelLayer",
    "RedisSentinelChannelLayer",
    "UnsupportedRedis",
    "check_redis_version",
    "parse_hosts",
    "parse_redis_version",
]
