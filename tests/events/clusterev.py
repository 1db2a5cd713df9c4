#!/usr/bin/python3
"""clusterev.py - small load and timing tools for tests/events/suite-events-cluster.

  clusterev.py lat DIR N         N small writes (DIR/lat-<i>: open, write,
                                 close), one after the other; prints
                                 "MEDIAN_MS MAX_MS" of the per-write times
  clusterev.py utimes PATH N     N changes: set PATH's mtime to 1..N in turn;
                                 prints the elapsed seconds
  clusterev.py inotify-norm FILE MOUNT
                                 inotifywait lines "EVENTS /path" of FILE as
                                 "EVENTS relative-path", mount prefix and a
                                 directory's own trailing "/" removed; the
                                 duplicate a watched directory reports for
                                 itself (same event on "d" and "d/") dropped
  clusterev.py hangup SOCK FROM N
                                 N times: connect, send a subscribe from
                                 revision FROM (every other time only half
                                 of the line), close without reading
The tools only touch the paths they are given."""
import os, socket, statistics, sys, time

def cmd_lat(d, n):
    times = []
    for i in range(n):
        path = os.path.join(d, "lat-%d" % i)
        t0 = time.monotonic()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, b"latency probe %d\n" % i)
        os.close(fd)
        times.append((time.monotonic() - t0) * 1000.0)
    print("%.2f %.2f" % (statistics.median(times), max(times)))
    return 0

def cmd_utimes(path, n):
    t0 = time.monotonic()
    for i in range(1, n + 1):
        os.utime(path, (i, i))
    print("%.2f" % (time.monotonic() - t0))
    return 0

def cmd_inotify_norm(path, mount):
    prev = None
    for line in open(path):
        line = line.rstrip("\n")
        if " " not in line:
            continue
        ev, p = line.split(" ", 1)
        if p.startswith(mount):
            p = p[len(mount):]
        p = p.lstrip("/")
        own = p.endswith("/")
        p = p.rstrip("/")
        cur = (ev, p)
        # a watched directory reports attribute changes twice: in its
        # parent's watch ("d") and in its own ("d/"); keep one
        if own and prev == cur:
            continue
        prev = cur
        print("%s %s" % cur)
    return 0

def cmd_hangup(path, rev, n):
    line = b'{"id":1,"call":"subscribe","from":%d}\n' % rev
    for i in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(path)
        s.sendall(line if i % 2 == 0 else line[: len(line) // 2])
        s.close()
    return 0

def main(argv):
    if len(argv) == 5 and argv[1] == "hangup":
        return cmd_hangup(argv[2], int(argv[3]), int(argv[4]))
    if len(argv) == 4 and argv[1] == "lat":
        return cmd_lat(argv[2], int(argv[3]))
    if len(argv) == 4 and argv[1] == "utimes":
        return cmd_utimes(argv[2], int(argv[3]))
    if len(argv) == 4 and argv[1] == "inotify-norm":
        return cmd_inotify_norm(argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 2

sys.exit(main(sys.argv))
