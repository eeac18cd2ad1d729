# Shared helpers for the runbooks (sourced). Every plan step is announced with `step`, which the
# drill runner journals; commands on nodes go through `maildrill exec NODE -- …`.
set -euo pipefail
step() { echo "STEP: $*"; }
on() { local node=$1; shift; maildrill exec "$node" -- "$@"; }
# wait_until SECONDS COMMAND…: poll COMMAND every second until it succeeds
wait_until() {
  local limit=$1; shift
  for _ in $(seq 1 "$limit"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  return 1
}
services_json() { maildrill status --json; }
# the nodes of a role, from the live topology
nodes_of() { python3 -c 'import json,os,sys
t=json.load(open(os.path.join(os.environ.get("MAILDRILL_HOME",".maildrill"),"topology.json")))
print(" ".join(n for n,v in t["nodes"].items() if v["role"]==sys.argv[1]))' "$1"; }
spec() { python3 -c 'import json,os,sys
t=json.load(open(os.path.join(os.environ.get("MAILDRILL_HOME",".maildrill"),"topology.json")))
v=t["spec"]
for k in sys.argv[1].split("."): v=v[k]
print(" ".join(v) if isinstance(v,list) else v)' "$1"; }
# svc_state NODE SERVICE: up | starting | down | cold (from the live status)
svc_state() { services_json | python3 -c 'import json,sys
d=json.load(sys.stdin); n,s=sys.argv[1],sys.argv[2]
print(next((x["state"] for x in d["services"] if x["node"]==n and x["service"]==s), "down"))' "$1" "$2"; }
svc_down() { test "$(svc_state "$1" "$2")" = down; }
svc_up() { test "$(svc_state "$1" "$2")" = up; }
