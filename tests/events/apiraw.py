#!/usr/bin/python3
"""apiraw.py - raw access to the pvecfs socket API for tests/events/suite-api.

  apiraw.py send SOCK LINE...        send each line, print one reply line per
                                     request (or EOF if the daemon closed);
                                     a single @FILE argument: the lines of FILE
  apiraw.py subscribe SOCK ARGS N READY
                                     subscribe with the JSON object ARGS, touch
                                     READY once subscribed, print N event lines
  apiraw.py stall SOCK READY GO      subscribe to everything with a tiny receive
                                     buffer, touch READY, read nothing until the
                                     file GO exists, then read to EOF and print
                                     the last line and EOF (or TIMEOUT)
Every wait is bounded (30 s); exit status 1 on timeout."""
import json, os, socket, sys, time

def connect(path, rcvbuf=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(path)
    s.settimeout(30)
    return s

class Lines:
    def __init__(self, s):
        self.s, self.buf = s, b""
    def next(self):
        while b"\n" not in self.buf:
            data = self.s.recv(65536)
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

def cmd_send(path, lines):
    if len(lines) == 1 and lines[0].startswith("@"):
        lines = open(lines[0][1:]).read().splitlines()
    s = connect(path)
    r = Lines(s)
    for line in lines:
        try:
            s.sendall(line.encode() + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon may have answered before it closed: read on
        try:
            reply = r.next()
        except ConnectionResetError:
            reply = None
        print(reply if reply is not None else "EOF", flush=True)
        if reply is None:
            return 0
    return 0

def cmd_subscribe(path, args, count, ready):
    s = connect(path)
    r = Lines(s)
    req = json.loads(args)
    req.update({"id": 1, "call": "subscribe"})
    s.sendall(json.dumps(req).encode() + b"\n")
    reply = r.next()
    print("# reply: %s" % reply, file=sys.stderr)
    if reply is None or '"result"' not in reply:
        print(reply)
        return 1
    open(ready, "w").close()
    for _ in range(count):
        line = r.next()
        if line is None:
            print("EOF")
            return 1
        print(line, flush=True)
    return 0

def cmd_stall(path, ready, go):
    s = connect(path, rcvbuf=4096)
    r = Lines(s)
    s.sendall(b'{"id":1,"call":"subscribe"}\n')
    if r.next() is None:
        return 1
    open(ready, "w").close()
    deadline = time.time() + 120
    while not os.path.exists(go):
        if time.time() > deadline:
            print("TIMEOUT")
            return 1
        time.sleep(0.1)
    last = None
    try:
        while True:
            line = r.next()
            if line is None:
                break
            last = line
    except socket.timeout:
        print(last)
        print("TIMEOUT")
        return 1
    except ConnectionResetError:
        pass
    print(last)
    print("EOF")
    return 0

def main(argv):
    if argv[1] == "send":
        return cmd_send(argv[2], argv[3:])
    if argv[1] == "subscribe":
        return cmd_subscribe(argv[2], argv[3], int(argv[4]), argv[5])
    if argv[1] == "stall":
        return cmd_stall(argv[2], argv[3], argv[4])
    print(__doc__, file=sys.stderr)
    return 2

sys.exit(main(sys.argv))
