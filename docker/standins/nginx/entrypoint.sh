#!/bin/sh
# Stand-in entrypoint (see the Dockerfile): the official 20-envsubst-on-templates.sh, defaults only.
set -eu
if [ "${1:-}" = nginx ] && [ -d /etc/nginx/templates ]; then
  filter=${NGINX_ENVSUBST_FILTER:-}
  # "${A} ${B} ...": the set variables whose names match the filter; envsubst replaces only those.
  defined=$(env | cut -d= -f1 | awk -v f="$filter" '$0 ~ f' | sed 's/.*/${&}/' | tr '\n' ' ')
  for template in /etc/nginx/templates/*.template; do
    [ -f "$template" ] || continue
    out=/etc/nginx/conf.d/$(basename "$template" .template)
    echo "$0: rendering $template to $out"
    envsubst "$defined" <"$template" >"$out"
  done
fi
exec "$@"
