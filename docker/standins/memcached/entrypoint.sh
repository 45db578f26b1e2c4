#!/bin/sh
# Stand-in entrypoint (see the Dockerfile): flags alone mean "memcached with these flags".
set -eu
if [ "${1#-}" != "$1" ]; then set -- memcached "$@"; fi
exec "$@"
