"""The browser tests run against the example site deployed as in production (honcho + Redis)."""

from tests.e2e.conftest import e2e_redis, honcho_stack, released_site

__all__ = ["e2e_redis", "honcho_stack", "released_site"]
