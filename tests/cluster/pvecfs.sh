# pvecfs on the nodes of a tests/cluster/harness.sh cluster.
#
# Source it after tests/lib.sh and tests/cluster/harness.sh.  Node K's pvecfs
# runs inside node K's namespaces (node_start_daemon), so its FUSE mount
# exists only there: tests write and read through node_exec K ..., and the
# host reaches the mount through node_path (/proc/<holder>/root/...).
#
# Per node, under node_dir K:  mnt/ (mount), data/ (config.db), prun/ (run
# dir), log/pvecfs.log (the daemon's stderr, -f mode).
#
# Tree comparison: node_tree_sum K is tests/lib.sh's tree_sum (names, types,
# sizes, mtimes, contents) plus every inode number, so "equal sums" means the
# nodes agree byte for byte, as the design requires (rule 2); the per-node
# virtual symlinks are left out.
#
# Failure reports: ct_define_tests turns every function t_NAME into a
# test_NAME that, when t_NAME fails or is killed by the watchdog, prints the
# last lines of every node's pvecfs log (and a tree diff when trees differ).

: "${CT_LOG_LINES:=25}"
CT_FSOP=$PVECFS_BUILD/tests/fs/fsop
CT_INJECT=$PVECFS_BUILD/tests/cluster/cpginject

# node_mnt K: node K's mount point (a path valid inside node K).
node_mnt() { echo "$(node_dir "$1")/mnt"; }

# node_pvecfs_log K: node K's pvecfs log file (a host path).
node_pvecfs_log() { echo "$(node_dir "$1")/log/pvecfs.log"; }

# node_host_mnt K: node K's mount as the host reaches it.
node_host_mnt() { node_path "$1" "$(node_mnt "$1")"; }

# node_pvecfs_up K: pvecfs runs on node K and its mount answers.
node_pvecfs_up() {
  node_alive "$1" pvecfs && node_exec "$1" head -c1 "$(node_mnt "$1")/.version" > /dev/null 2>&1
}

# node_start_pvecfs K [ARGS...]: start pvecfs (cluster mode) on node K and
# wait until its mount answers.  Extra ARGS go to pvecfs.
node_start_pvecfs() {
  local k=$1 d
  shift
  d=$(node_dir "$k")
  mkdir -p "$d/mnt" "$d/data" "$d/prun"
  echo "--- start $(date +%T.%N) ---" >> "$(node_pvecfs_log "$k")"
  node_start_daemon "$k" pvecfs "$PVECFS" -f --node "n$k" --mount "$d/mnt" \
    --data "$d/data" --run "$d/prun" "$@" || return 1
  if ! wait_for 30 node_pvecfs_up "$k"; then
    fail "pvecfs on node $k did not come up"
    tail -n "$CT_LOG_LINES" "$(node_pvecfs_log "$k")" | sed "s/^/#   n$k: /" >&2
    return 1
  fi
}

# node_stop_pvecfs K [SIGNAL]: stop pvecfs on node K (default TERM) and wait.
node_stop_pvecfs() { node_stop_daemon "$1" pvecfs "${2:-TERM}" 20; }

# node_kill_pvecfs K: SIGKILL; the mount stays behind (stale) until the next
# pvecfs on that node cleans it up.
node_kill_pvecfs() { node_stop_daemon "$1" pvecfs KILL 10; }

# node_members_json K: node K's .members.
node_members_json() { node_exec "$1" cat "$(node_mnt "$1")/.members"; }

# node_pvecfs_quorate K N: node K's .members says quorate with N nodes online.
node_pvecfs_quorate() {
  local j
  j=$(node_members_json "$1") || return 1
  /usr/bin/python3 -c '
import json, sys
m = json.loads(sys.argv[1]); n = int(sys.argv[2])
on = [k for k, v in m.get("nodelist", {}).items() if v.get("online")]
sys.exit(0 if m["cluster"]["quorate"] == 1 and len(on) == n else 1)' "$j" "$2" 2>/dev/null
}

# node_writable K: a probe write on node K succeeds (synced and quorate).
node_writable() {
  local p
  p="$(node_mnt "$1")/.ct-probe-n$1"
  # the probe name starts with a dot, so tree_sum ignores it while it lives
  node_exec "$1" sh -c "echo probe > '$p' && rm -f '$p'" 2>/dev/null
}

# wait_writable K [TIMEOUT]
wait_writable() {
  wait_for "${2:-60}" node_writable "$1" || { fail "node $1 not writable after ${2:-60}s"; return 1; }
}

# node_refuses_writes K: a probe write on node K fails with EACCES.
node_refuses_writes() {
  local out
  out=$(node_fsop "$1" write "/.ct-probe-n$1" wronly,creat,trunc probe 2>&1) && {
    node_exec "$1" rm -f "$(node_mnt "$1")/.ct-probe-n$1"; return 1; }
  [ "$out" = "open EACCES" ] || [ "$out" = "close EACCES" ] || [ "$out" = "write EACCES" ]
}

# wait_read_only K [TIMEOUT]: until node K refuses writes with EACCES.
wait_read_only() {
  wait_for "${2:-60}" node_refuses_writes "$1" ||
    { fail "node $1 still accepts writes (or fails otherwise) after ${2:-60}s: $(node_fsop "$1" write "/.ct-probe-n$1" wronly,creat,trunc probe 2>&1)"; return 1; }
}

# cluster_start_pvecfs N: a quorate N-node cluster with pvecfs on every node,
# every node quorate in .members, writable, and all trees equal.
cluster_start_pvecfs() {
  local n=$1 k all=()
  cluster_start_all "$n" || return 1
  ct_own_cluster
  for ((k = 1; k <= n; k++)); do node_start_pvecfs "$k" || return 1; all+=("$k"); done
  for k in "${all[@]}"; do
    wait_for 60 node_pvecfs_quorate "$k" "$n" ||
      { fail "node $k: .members not quorate with $n online: $(node_members_json "$k")"; return 1; }
  done
  for k in "${all[@]}"; do wait_writable "$k" || return 1; done
  # each daemon creates its own nodes/nK/{qemu-server,lxc,priv} once it is
  # writable: wait for them so tests start from a settled tree
  for k in "${all[@]}"; do
    wait_for 30 node_has_own_dirs "$k" || { fail "node $k did not create its nodes/n$k directories"; return 1; }
  done
  wait_trees_equal 60 "${all[@]}"
}

# node_has_own_dirs K: node K's per-node directories exist (cfs.c creates
# them: nodes/nK/{qemu-server,lxc,priv} and priv/lock).
node_has_own_dirs() {
  local m
  m=$(node_mnt "$1")
  node_exec "$1" test -d "$m/nodes/n$1/qemu-server" -a -d "$m/nodes/n$1/lxc" \
    -a -d "$m/nodes/n$1/priv" -a -d "$m/priv/lock"
}

# node_tree_list K: one line per entry: type, path, size, mtime, inode.
# Skips the virtual dot files and the virtual symlinks (local, qemu-server,
# lxc): those point to each node's own directory and carry the local mount
# time, so they differ between nodes by design.
node_tree_list() {
  (cd "$(node_host_mnt "$1")" &&
    find . \( -path './.*' -o -type l \) -prune -o -printf '%y %p %s %T@ %i\n' | LC_ALL=C sort)
}

# node_tree_sum K: like tests/lib.sh's tree_sum (names, types, sizes, mtimes,
# contents) of node K's mount, plus inode numbers, without the virtual files.
node_tree_sum() {
  local m
  m=$(node_host_mnt "$1") || return 1
  { node_tree_list "$1" || return 1
    (cd "$m" && find . \( -path './.*' -o -type l \) -prune -o -type f -print0 |
      LC_ALL=C sort -z | xargs -0r cat) || return 1
  } | sha256sum | cut -d' ' -f1
}

# cluster_trees_equal K1 K2...: the trees of the nodes are identical.
cluster_trees_equal() {
  local first k s
  first=$(node_tree_sum "$1") || return 1
  shift
  for k in "$@"; do
    s=$(node_tree_sum "$k") || return 1
    [ "$s" = "$first" ] || return 1
  done
}

# wait_trees_equal TIMEOUT K...: wait until the nodes' trees are identical;
# on failure print what differs.
wait_trees_equal() {
  local limit=$1 k
  shift
  wait_for "$limit" cluster_trees_equal "$@" && return 0
  fail "trees of nodes $* still differ after ${limit}s"
  for k in "${@:2}"; do
    log "diff n$1 n$k (type path size mtime inode):"
    diff <(node_tree_list "$1") <(node_tree_list "$k") | head -20 | sed 's/^/#   /' >&2
  done
  return 1
}

# node_read K PATH: contents of PATH (relative to the mount) on node K.
node_read() { node_exec "$1" cat "$(node_mnt "$1")/$2"; }

# node_write K PATH TEXT: write TEXT (plus newline) to PATH on node K.
node_write() {
  node_exec "$1" sh -c 'printf "%s\n" "$2" > "$1"' - "$(node_mnt "$1")/$2" "$3"
}

# node_stat K PATH: "inode mtime size" of PATH on node K.
node_stat() { node_exec "$1" stat -c '%i %Y %s' "$(node_mnt "$1")/$2"; }

# node_fsop K ARGS...: tests/fs/fsop inside node K (prints the errno name
# on failure); paths are relative to node K's mount.
node_fsop() {
  local k=$1 cmd=$2 a args=()
  shift 2
  for a in "$@"; do
    case "$a" in
      /*) args+=("$(node_mnt "$k")$a") ;;
      *) args+=("$a") ;;
    esac
  done
  node_exec "$k" "$CT_FSOP" "$cmd" "${args[@]}"
}

# expect_write_eacces K PATH: writing PATH (relative) on node K fails with
# EACCES, and the file's content is unchanged.
expect_write_eacces() {
  local k=$1 p=$2 before after out
  before=$(node_read "$k" "$p" 2>&1)
  out=$(node_fsop "$k" write "/$p" wronly,creat,trunc "refused-$RANDOM" 2>&1) &&
    { fail "node $k: write of $p succeeded, expected EACCES"; return 1; }
  case "$out" in
    *EACCES*) ;;
    *) fail "node $k: write of $p: expected EACCES, got '$out'"; return 1 ;;
  esac
  after=$(node_read "$k" "$p" 2>&1)
  expect_eq "node $k: $p unchanged after the refused write" "$before" "$after"
}

# pvecfs_dump_logs [K...]: the last lines of pvecfs logs (default: all nodes).
pvecfs_dump_logs() {
  local k ks=("$@") n
  if [ ${#ks[@]} = 0 ]; then
    n=$(cluster_nodes)
    for ((k = 1; k <= n; k++)); do ks+=("$k"); done
  fi
  for k in "${ks[@]}"; do
    [ -e "$(node_pvecfs_log "$k")" ] || continue
    log "last lines of n$k's pvecfs.log:"
    tail -n "$CT_LOG_LINES" "$(node_pvecfs_log "$k")" | sed "s/^/#   n$k: /" >&2
  done
}

# ct_run FN: run test body FN; on failure or watchdog timeout print the logs
# (from the EXIT trap, so a timeout reports too).
ct_run() {
  local t0
  CT_OK=0 CT_OWN_CLUSTER=0
  trap _ct_exit EXIT
  t0=$(date +%s%N)
  "$1" || return 1
  CT_OK=1
  log "timing: ${1#t_} took $(( ($(date +%s%N) - t0) / 1000000 ))ms"
}

_ct_exit() {
  [ "${CT_OK:-0}" = 1 ] || pvecfs_dump_logs
  [ "${CT_OWN_CLUSTER:-0}" = 1 ] && cluster_down
  return 0
}

# ct_own_cluster: call right after cluster_up/cluster_start_all in a test:
# harness.sh's cluster_up set its own EXIT trap (cluster_down); this puts
# back ours, which dumps the logs first and then calls cluster_down.  In the
# suite shell (a cluster shared by all tests) it does nothing.
ct_own_cluster() {
  [ "$BASHPID" = "$$" ] && return 0
  CT_OWN_CLUSTER=1
  trap _ct_exit EXIT
}

# ct_define_tests: a test_NAME for every function t_NAME, in file order.
ct_define_tests() {
  local f
  for f in $(declare -F | awk '{print $3}' | grep '^t_'); do
    eval "test_${f#t_}() { ct_run $f; }"
  done
}

# ct_test_names SUITE [NAME...]: the NAMEs given (test_ prefix optional),
# or else the test_ functions in the order their t_ bodies appear in the
# suite file (declare -F sorts by name).
ct_test_names() {
  local f=$1 n
  shift
  if [ $# -gt 0 ]; then
    for n in "$@"; do echo "test_${n#test_}"; done
    return
  fi
  grep -o '^t_[a-z0-9_]*()' "$f" | sed 's/^t_/test_/; s/()$//'
}

# ct_skip_without_tools: SKIP the suite if it cannot run here.
ct_skip_without_tools() {
  local t
  for t in corosync corosync-quorumtool ip nsenter; do
    command -v "$t" >/dev/null || { echo "SKIP: ${0##*/} ($t missing)"; exit 0; }
  done
  [ "$(id -u)" = 0 ] || { echo "SKIP: ${0##*/} (needs root)"; exit 0; }
  [ -x "$PVECFS" ] || { echo "SKIP: ${0##*/} ($PVECFS not built)"; exit 0; }
}
