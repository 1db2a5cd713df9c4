# Shared helpers for the shell test suites.  Source it, define functions
# named test_*, then call `run_tests`.
#
# Every test runs in its own subshell under a watchdog (TEST_TIMEOUT seconds,
# default 60), prints PASS:/FAIL: name, and may not leave anything behind:
# processes and mounts it starts are recorded (lib_track_pid/lib_track_mount)
# and removed by the suite's EXIT trap, by PID and by path, never by name.

: "${PVECFS_TOP:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${PVECFS_BUILD:=$PVECFS_TOP/build}"
PVECFS=$PVECFS_BUILD/pvecfs
PVECFSCTL=$PVECFS_BUILD/pvecfsctl
: "${TEST_TIMEOUT:=60}"

T=$(mktemp -d /tmp/pvecfs-test.XXXXXX)
: > "$T/.pids"; : > "$T/.mounts"

lib_track_pid() { echo "$1" >> "$T/.pids"; }

# pid_running PID: the process exists and is not a zombie (an orphan's
# zombie lingers until init reaps it).
pid_running() {
  local st
  st=$(sed -n 's/^[0-9]* (.*) \([A-Z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null)
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# is_mounted DIR: from /proc/self/mountinfo, without touching the mount
# (a stat on a FUSE mount whose daemon hangs would hang too).
is_mounted() { awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo; }

# fuse_abort DIR: abort the FUSE connection of the mount on DIR through
# fusectl, so nothing can stay blocked on it (a daemon killed while one of
# its threads waits in the kernel cannot release the connection itself).
fuse_abort() {
  local dev ctl=/sys/fs/fuse/connections
  dev=$(awk -v m="$1" '$5 == m { d = $3 } END { print d }' /proc/self/mountinfo)
  [ -n "$dev" ] && [ -d $ctl ] || return 0
  is_mounted $ctl || mount -t fusectl fusectl $ctl 2>/dev/null
  [ -e "$ctl/${dev#*:}/abort" ] && echo 1 > "$ctl/${dev#*:}/abort" 2>/dev/null
  return 0
}

# unmount_fuse DIR: abort and lazily unmount a FUSE mount if it is there.
unmount_fuse() {
  is_mounted "$1" || return 0
  fuse_abort "$1"
  fusermount3 -uz "$1" 2>/dev/null || umount -l "$1" 2>/dev/null
  return 0
}
lib_track_mount() { echo "$1" >> "$T/.mounts"; }

lib_cleanup() {
  local pid m
  if [ -n "${LIB_EXTRA_CLEANUP:-}" ]; then $LIB_EXTRA_CLEANUP; fi
  while read -r pid; do
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
  done < "$T/.pids"
  sleep 0.2
  while read -r pid; do
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  done < "$T/.pids"
  tac "$T/.mounts" | while read -r m; do
    [ -n "$m" ] && unmount_fuse "$m"
  done
  rm -rf "$T" 2>/dev/null
}
trap lib_cleanup EXIT
# tests/run stops a suite that overruns with SIGTERM: clean up all the same.
trap 'exit 143' TERM INT

log() { echo "# $*" >&2; }
fail() { echo "  failed: $*" >&2; return 1; }

# check DESCRIPTION COMMAND...: run COMMAND, fail with DESCRIPTION if it fails.
check() {
  local what=$1; shift
  "$@" || fail "$what"
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
  [ "$2" == "$3" ] || fail "$1: expected '$2', got '$3'"
}

# expect_errno ERRNO-NAME COMMAND...: COMMAND (usually tests/fs helper `fsop`)
# must fail and print the errno name.
expect_err() {
  local want=$1; shift
  local out
  out=$("$@" 2>&1) && { fail "expected $want from: $*"; return 1; }
  case "$out" in *"$want"*) return 0 ;; esac
  fail "expected $want from: $*, got: $out"
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
  local limit=$1; shift
  local deadline=$(( $(date +%s%N) / 1000000 + limit * 1000 ))
  while ! "$@" 2>/dev/null; do
    [ $(( $(date +%s%N) / 1000000 )) -ge $deadline ] && return 1
    sleep 0.05
  done
}

# pvecfs_start NAME [ARGS...]: start a local-mode daemon in the foreground
# (as a background job) with its own mount, data and run dirs under $T/NAME.
# Sets MNT DATA RUN PVECFS_PID.  Waits until the mount is up.
pvecfs_start() {
  local name=$1; shift
  MNT=$T/$name/mnt DATA=$T/$name/data RUN=$T/$name/run
  mkdir -p "$MNT" "$DATA" "$RUN"
  pvecfs_start_at "$@"
}

# pvecfs_start_at [ARGS...]: start on the current MNT/DATA/RUN.
pvecfs_start_at() {
  ${PVECFS_WRAPPER:-} "$PVECFS" -f -l --node "${NODE:-n1}" --mount "$MNT" --data "$DATA" \
    --run "$RUN" "$@" >>"$T/daemon.log" 2>&1 &
  PVECFS_PID=$!
  lib_track_pid "$PVECFS_PID"
  lib_track_mount "$MNT"
  if ! wait_for 20 pvecfs_is_up; then
    kill -0 "$PVECFS_PID" 2>/dev/null || { log "pvecfs exited:"; tail -5 "$T/daemon.log" >&2; }
    return 1
  fi
}

# Reads .version rather than stat it: a stat may be answered from the kernel's
# cache of a stale mount that the new daemon has not replaced yet.
pvecfs_is_up() {
  kill -0 "$PVECFS_PID" 2>/dev/null && is_mounted "$MNT" && head -c1 "$MNT/.version" > /dev/null 2>&1
}

# pvecfs_stop [SIGNAL]: stop the daemon started last and wait until it is gone.
pvecfs_stop() {
  local sig=${1:-TERM} i
  kill -"$sig" "$PVECFS_PID" 2>/dev/null
  for i in $(seq 200); do
    kill -0 "$PVECFS_PID" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$PVECFS_PID" 2>/dev/null; then
    log "pvecfs $PVECFS_PID did not exit on $sig"; kill -KILL "$PVECFS_PID"
  fi
  wait "$PVECFS_PID" 2>/dev/null
  if [ "$sig" = KILL ] || [ "$sig" = 9 ]; then
    unmount_fuse "$MNT"
  fi
  return 0
}

# tree_sum DIR: a checksum of names, types, sizes, mtimes and contents of
# the stored tree, skipping the virtual dot files and the built-in symlinks
# (their mtime is the daemon's start time, their target the node's name).
tree_sum() {
  (cd "$1" && find . -path './.*' -prune -o ! -type l -printf '%y %p %s %T@\n' | LC_ALL=C sort &&
    find . -path './.*' -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0r cat) | sha256sum | cut -d' ' -f1
}

# lib_cleanup_since PIDS-LINE MOUNTS-LINE: stop what a test started.
lib_cleanup_since() {
  local pid m i pids
  pids=$(tail -n +"$(( $1 + 1 ))" "$T/.pids")
  for pid in $pids; do kill -TERM "$pid" 2>/dev/null; done
  # what does not stop within 2 s is killed (a hung daemon must not outlive
  # its test)
  for i in $(seq 40); do
    local alive=no
    for pid in $pids; do pid_running "$pid" && alive=yes; done
    [ $alive = no ] && break
    sleep 0.05
  done
  for pid in $pids; do kill -KILL "$pid" 2>/dev/null; done
  tail -n +"$(( $2 + 1 ))" "$T/.mounts" | tac | while read -r m; do
    [ -n "$m" ] && unmount_fuse "$m"
  done
  return 0
}

# run_tests: run every function named test_* (or those named in $@), each in
# its own subshell under a watchdog; what a test started is stopped after it.
run_tests() {
  local tests=("$@") t rc pid dog npids nmounts
  [ ${#tests[@]} -gt 0 ] || tests=($(declare -F | awk '{print $3}' | grep '^test_'))
  for t in "${tests[@]}"; do
    npids=$(wc -l < "$T/.pids"); nmounts=$(wc -l < "$T/.mounts")
    ( trap - EXIT; set -u; "$t" ) &
    pid=$!
    ( trap - EXIT; sleep "$TEST_TIMEOUT" & s=$!
      trap 'kill $s 2>/dev/null; exit 0' TERM
      wait $s; echo "  timeout after ${TEST_TIMEOUT}s" >&2
      pkill -TERM -P "$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null ) &
    dog=$!
    wait "$pid"; rc=$?
    kill -TERM "$dog" 2>/dev/null; wait "$dog" 2>/dev/null
    lib_cleanup_since "$npids" "$nmounts"
    if [ $rc = 0 ]; then echo "PASS: $t"; else echo "FAIL: $t"; fi
  done
}
