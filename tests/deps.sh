#!/bin/sh
# deps.sh PKG... - install the Debian packages that are missing, and nothing
# else: non-interactive, no recommends. Called by `make deps` (and so by
# `make check` and `make demo`), which pass the list.
set -eu
missing=
for p in "$@"; do
	# "install ok installed" only for a package that is really there.
	case "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" in
	*"ok installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -n "$missing" ] || exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: run 'sudo make deps' (or install them) and try again" >&2
	exit 111
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >&2
