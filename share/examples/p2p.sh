#!/bin/sh
# p2p.sh listen|connect HOST - EdgeLink's point-to-point link in one line per
# side. The token comes from EL_KEYX_TOKEN (make it once with
# `el-keygen psk --raw` and give it to both hosts); the key is made fresh
# unless EL_KEYX_KEY or EL_KEYX_STATE says otherwise. IFACE defaults to wg0.
#   dst$ EL_KEYX_TOKEN=... p2p.sh listen
#   src$ EL_KEYX_TOKEN=... p2p.sh connect dst.example.org
set -eu
role=${1:?listen or connect}
iface=${IFACE:-wg0}
case $role in
listen) el-keygen | el-keyx listen | exec el-link up "$iface" ;;
connect) el-keygen | el-keyx connect "${2:?HOST}" | exec el-link up "$iface" ;;
*) echo "p2p.sh: listen or connect" >&2; exit 100 ;;
esac
