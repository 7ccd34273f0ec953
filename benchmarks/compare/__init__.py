"""Side-by-side benchmark of channels_classic and Channels 4 + Daphne 4 + channels_redis.

``benchmarks/compare.py`` is the command; this package holds its pieces:

* ``settings_common`` and ``djsite``: the settings, view and URLs both Django projects share
  (same middleware, same view);
* ``ours`` the channels_classic project (routing, consumers, the interface server's layer);
* ``theirs`` the Channels 4 project (ASGI application and consumers), imported only inside the
  separate virtualenv ``benchmarks/.venv-channels4``;
* ``procs``, ``stacks``, ``venv`` start, watch and stop the processes;
* ``wrk`` and ``wsload`` are the load clients, ``redisstats`` reads Redis counters;
* ``workloads`` runs one measurement, ``report`` turns measurements into tables.
"""
