# Helpers shared by the tests/fs suites (sourced after tests/lib.sh).
#
# fsop (tests/fs/fsop.c) performs one system call and prints "<step> <ERRNO>"
# on failure; the helpers below compare that errno name exactly, so a test
# fails if the call succeeds or fails for another reason.

FSOP=$PVECFS_BUILD/tests/fs/fsop
PY=/usr/bin/python3

fs_require_binaries() {
  local b
  for b in "$PVECFS" "$FSOP"; do
    [ -x "$b" ] || { echo "FAIL: missing $b (build it: make pvecfs tests/fs/fsop)"; exit 1; }
  done
}

# ok COMMAND ARGS...: fsop must succeed.
ok() {
  local out
  out=$("$FSOP" "$@" 2>&1) || { fail "fsop $*: $out"; return 1; }
}

# expect_errno NAME[|NAME...] COMMAND ARGS...: fsop must fail with one of the
# errno names (the last word of its output).
expect_errno() {
  local want=$1 out got; shift
  if out=$("$FSOP" "$@" 2>&1); then
    fail "fsop $*: succeeded, expected $want"
    return 1
  fi
  got=${out##* }
  case "|$want|" in *"|$got|"*) return 0 ;; esac
  fail "fsop $*: expected $want, got '$out'"
}

# expect_step STEP NAME COMMAND ARGS...: as expect_errno, and the failing
# system call must be STEP (open, write, close, ...).
expect_step() {
  local step=$1 want=$2 out; shift 2
  if out=$("$FSOP" "$@" 2>&1); then
    fail "fsop $*: succeeded, expected $step $want"
    return 1
  fi
  [ "$out" = "$step $want" ] || fail "fsop $*: expected '$step $want', got '$out'"
}

# expect_unchanged BEFORE: the tree checksum of $MNT must still be BEFORE.
expect_unchanged() {
  local now
  now=$(tree_sum "$MNT")
  [ "$1" = "$now" ] || fail "the stored tree changed"
}

# content PATH: the file's bytes (fails the test if it cannot be read).
content() {
  cat "$1" || fail "cannot read $1"
}

# json_get FILE PYTHON-EXPR: evaluate EXPR with `d` bound to the parsed JSON.
json_get() {
  "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# daemon_stop_status SIGNAL: stop the daemon started last with SIGNAL and set
# STOP_RC to its exit status (waits up to 60 s, then kills it: STOP_RC=hung).
daemon_stop_status() {
  local i
  kill -"$1" "$PVECFS_PID" 2>/dev/null
  for i in $(seq 1200); do
    kill -0 "$PVECFS_PID" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$PVECFS_PID" 2>/dev/null; then
    kill -KILL "$PVECFS_PID"; wait "$PVECFS_PID" 2>/dev/null
    STOP_RC=hung
    return 0
  fi
  wait "$PVECFS_PID"
  STOP_RC=$?
}

# expect_exit0 WHAT: STOP_RC must be 0; otherwise show the daemon's last words.
expect_exit0() {
  [ "$STOP_RC" = 0 ] && return 0
  fail "exit status after $1: $STOP_RC; daemon log:"
  tail -n 15 "$T/daemon.log" | sed 's/^/    | /' >&2
  return 1
}

# db_sum DIR: checksum of the database file(s) in a data directory.
db_sum() {
  (cd "$1" && cat config.db config.db-wal 2>/dev/null) | sha256sum | cut -d' ' -f1
}

# FSTESTS_KEEP=DIR keeps the daemon log of a run there (for debugging).
fs_keep_artifacts() {
  if [ -n "${FSTESTS_KEEP:-}" ]; then
    mkdir -p "$FSTESTS_KEEP" && cp "$T"/*.log "$T"/*.err "$FSTESTS_KEEP"/ 2>/dev/null
  fi
  return 0
}
LIB_EXTRA_CLEANUP=fs_keep_artifacts
