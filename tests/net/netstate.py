#!/usr/bin/python3
"""netstate.py - read the kernel's links and addresses (run inside a netns).

  netstate.py show NAME    one line: kind= master= mtu= up= alias= addrs=
                           (or 'absent')
  netstate.py dump         every link and address, normalised (no counters,
                           timers or carrier state), for before/after checks
"""
import json
import subprocess
import sys


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
    elif sys.argv[1] == "dump":
        print(json.dumps(links(), sort_keys=True, indent=1))


main()
