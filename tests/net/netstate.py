#!/usr/bin/python3
"""netstate.py - read the kernel's links and addresses (run inside a netns).

  netstate.py show NAME    one line: kind= master= mtu= up= alias= addrs=
                           (or 'absent')
  netstate.py dump         every link and address, normalised (no counters,
                           timers or carrier state), for before/after checks
  netstate.py udp-path IP SIZE
                           send UDP datagrams of SIZE bytes (IP packet) with
                           DF set to IP:9 until one is echoed back by
                           `udp-echo` on the far side; exit 0 if one came back
                           within 20 s (ping is not installed everywhere)
  netstate.py udp-echo IP  answer every datagram on IP:9 (runs until killed)
"""
import json
import socket
import subprocess
import sys
import time

IP_MTU_DISCOVER, IP_PMTUDISC_DO = 10, 2


def ip(*args):
    return json.loads(subprocess.run(["ip", "-d", "-j", *args], check=True,
                                     capture_output=True, text=True).stdout or "[]")


def links():
    out = {}
    addrs = {a["ifname"]: a.get("addr_info", []) for a in ip("addr")}
    for l in ip("link"):
        info = l.get("linkinfo", {})
        data = info.get("info_data", {})
        out[l["ifname"]] = {
            "kind": info.get("info_kind", ""),
            "master": l.get("master", ""),
            "mtu": l.get("mtu"),
            "up": 1 if "UP" in l.get("flags", []) else 0,
            "alias": l.get("ifalias", ""),
            "vlan_filtering": data.get("vlan_filtering"),
            "stp": data.get("stp_state"),
            "addrs": sorted("%s/%s" % (a["local"], a["prefixlen"])
                            for a in addrs.get(l["ifname"], [])
                            if not a["local"].startswith("fe80:")),
        }
    return out


def main():
    if sys.argv[1] == "show":
        l = links().get(sys.argv[2])
        if l is None:
            print("absent")
            return
        print("kind=%s master=%s mtu=%s up=%s alias=%s addrs=%s" % (
            l["kind"], l["master"], l["mtu"], l["up"], l["alias"], ",".join(l["addrs"])))
    elif sys.argv[1] == "udp-path":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
        s.settimeout(0.5)
        payload = b"x" * (int(sys.argv[3]) - 28)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                s.sendto(payload, (sys.argv[2], 9))
                data, _ = s.recvfrom(65536)
                if len(data) == len(payload):
                    print("ok")
                    return
            except socket.timeout:
                continue
            except OSError as e:
                print("error: %s" % e)
                sys.exit(1)
        sys.exit(1)
    elif sys.argv[1] == "udp-echo":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((sys.argv[2], 9))
        while True:
            data, peer = s.recvfrom(65536)
            s.sendto(data, peer)
    elif sys.argv[1] == "dump":
        print(json.dumps(links(), sort_keys=True, indent=1))


main()
