#!/bin/sh
# Stand-in entrypoint (see the Dockerfile): redis-server as user redis (the shim on PATH turns
# protected mode off).
set -eu
if [ "${1#-}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = redis-server ]; then
  shift
  [ "$(id -u)" = 0 ] && chown -R redis:redis /data
  exec setpriv --reuid=redis --regid=redis --init-groups redis-server "$@"
fi
exec "$@"
