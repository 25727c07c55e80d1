#!/usr/bin/env python3
"""Writes the seed corpora in corpus/<target>/ from real data.

The seeds are committed; run this again only when a target's input format or
the data it is made from (framework/tests/data, scenarios/) changes:
    python3 framework/tests/fuzz/make_seeds.py
Replies are QEMU 7.2's and qemu-ga 7.2's, as captured in
framework/tests/data/guests/ (see its README); the agent seeds answer the
exact request sequence of agent_client_fuzz.cc, the last one including a whole
ReadGuestSnapshot of a captured guest.
"""
import base64
import json
import pathlib
import shutil
import struct

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
DATA = ROOT / "framework/tests/data"
CORPUS = HERE / "corpus"
SYS_CPU = "/sys/devices/system/cpu"

GREETING = {"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7},
                                "package": "Debian 1:7.2+dfsg-7+deb12u18"},
                    "capabilities": ["oob"]}}


def dump(msg):
    return json.dumps(msg, separators=(", ", ": ")) + "\r\n"


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def load(path):
    return json.loads((DATA / path).read_text())


# --- qmp_client: the peer's bytes for Handshake, two commands, event waits.
def qmp_seeds():
    guest = "guests/intel-2s2c2t-plugged"
    hotpluggable = load(f"{guest}/query-hotpluggable-cpus.json")
    ost = {"event": "ACPI_DEVICE_OST", "timestamp": {"seconds": 1700000000, "microseconds": 123456},
           "data": {"info": {"device": "cpu1", "source": 1, "status": 0, "slot": "1",
                             "slot-type": "CPU"}}}
    deleted = {"event": "DEVICE_DELETED", "timestamp": {"seconds": 1700000001, "microseconds": 5},
               "data": {"device": "cpu1", "path": "/machine/peripheral/cpu1"}}
    ok = [GREETING, {"return": {}, "id": "cpuhp-1"},
          dict(hotpluggable, id="cpuhp-2"),
          {"return": {}, "id": "cpuhp-3"}, ost, deleted]
    write("qmp_client", "plug", "".join(map(dump, ok)))
    # Events before the reply, a stale reply, QEMU refusing device_add.
    refused = [GREETING, {"return": {}, "id": "cpuhp-1"},
               {"event": "RTC_CHANGE", "data": {"offset": 0, "qom-path": "/machine/unattached/device[16]"},
                "timestamp": {"seconds": 1, "microseconds": 2}},
               {"return": [], "id": "cpuhp-0"},
               dict(load("qmp/qom-get-machine-smp-2s2c2t.json"), id="cpuhp-2"),
               {"id": "cpuhp-3", "error": {"class": "GenericError",
                                           "desc": "CPU[1] with APIC ID 1 exists"}}]
    write("qmp_client", "refused", "".join(map(dump, refused)))
    write("qmp_client", "greeting-only", dump(GREETING))


# --- agent_client: replies in the order agent_client_fuzz.cc asks.
class Agent:
    def __init__(self, tree=None):
        self.tree = tree
        self.out = []
        self.handle = 1000

    def reply(self, value):
        self.out.append(dump({"return": value}))

    def error(self, desc):
        self.out.append(dump({"error": {"class": "GenericError", "desc": desc}}))

    def content(self, path):
        if self.tree is None:
            return {f"{SYS_CPU}/online": "0-3\n", f"{SYS_CPU}/present": "0-3\n",
                    f"{SYS_CPU}/cpu1/online": "1\n"}.get(path)
        f = self.tree / path.lstrip("/")
        return f.read_text() if f.is_file() else None

    def missing(self, path):
        self.error(f"failed to open file '{path}' (mode: 'r'): No such file or directory")

    def chunk(self, text):
        raw = text.encode()
        self.reply({"count": len(raw), "buf-b64": base64.b64encode(raw).decode(), "eof": True})

    def read_files(self, paths):  # TryReadFiles: all opens, all reads, all closes
        opened = []
        for p in paths:
            if self.content(p) is None:
                self.missing(p)
            else:
                self.handle += 1
                self.reply(self.handle)
                opened.append(p)
        for p in opened:
            self.chunk(self.content(p))
        for _ in opened:
            self.reply({})

    def read_file(self, path):  # ReadFile / TryReadFile: open, read, close
        if self.content(path) is None:
            self.missing(path)
            return
        self.handle += 1
        self.reply(self.handle)
        self.chunk(self.content(path))
        self.reply({})

    def vcpus(self):
        if self.tree is None:
            self.reply([{"logical-id": 0, "online": True, "can-offline": False},
                        {"logical-id": 1, "online": True, "can-offline": True}])
        else:
            self.out.append(dump(json.loads((self.tree / "guest-get-vcpus.json").read_text())))

    def snapshot(self):  # ReadGuestSnapshot's reads, in order
        self.vcpus()
        self.read_files([f"{SYS_CPU}/{leaf}" for leaf in
                         ("possible", "present", "online", "offline", "kernel_max", "hotplug/states")])
        present = cpulist(self.content(f"{SYS_CPU}/present"))
        online = cpulist(self.content(f"{SYS_CPU}/online"))
        vcpus = json.loads((self.tree / "guest-get-vcpus.json").read_text())["return"]
        for cpu in sorted(present | online | {v["logical-id"] for v in vcpus}):
            self.read_files([f"{SYS_CPU}/cpu{cpu}/{leaf}" for leaf in
                             ("online", "uevent", "firmware_node/path", "hotplug/state",
                              "hotplug/target", "hotplug/fail", "topology/physical_package_id",
                              "topology/die_id", "topology/core_id",
                              "topology/thread_siblings_list", "topology/core_cpus_list")])
        self.read_file("/proc/cpuinfo")


def cpulist(text):
    out = set()
    for item in filter(None, text.strip().split(",")):
        first, _, last = item.partition("-")
        out.update(range(int(first), int(last or first) + 1))
    return out


def agent_script(agent, with_snapshot):
    agent.out.append("\xff" + dump({"return": "@ID@"}).replace('"@ID@"', "@ID@"))
    agent.reply({})  # Ping
    agent.vcpus()  # GetVcpus
    agent.read_files([f"{SYS_CPU}/online", f"{SYS_CPU}/cpu1/online"])
    agent.read_file(f"{SYS_CPU}/present")
    agent.read_file(f"{SYS_CPU}/cpu2/online")  # TryReadFile
    agent.reply(2)  # SetVcpus
    agent.handle += 1
    agent.reply(agent.handle)  # WriteFile: open, write, flush, close
    agent.reply({"count": 1, "eof": False})
    agent.reply({})
    agent.reply({})
    if with_snapshot:
        agent.snapshot()
    return "".join(agent.out).encode("latin-1")


def agent_seeds():
    write("agent_client", "checker-calls", agent_script(Agent(), False))
    for guest in ("intel-2s2c2t-onlined", "amd-4s-plugged"):
        write("agent_client", f"snapshot-{guest}", agent_script(Agent(DATA / "guests" / guest), True))
    # A stale reply before the delimiter, as after a timed-out command.
    write("agent_client", "stale-before-sync",
          (dump({"return": {"stale": True}}) + "\xff" + dump({"return": 7}).replace("7", "@ID@")
           + dump({"return": {}})).encode("latin-1"))


# --- json_stream: stream bytes, then FuzzedDataProvider's control values,
# which it takes from the end: piece lengths (2 bytes each, last first), the
# piece count, resync_on_error, start_discarding; each value is read high byte
# first from the end, hence "<H" for a length read backwards.
def stream_seed(stream, lengths, resync=False, discard=False):
    tail = b"".join(struct.pack("<H", n) for n in reversed(lengths))
    return stream + tail + bytes([len(lengths), int(resync), int(discard)])


def json_stream_seeds():
    qmp = "".join(map(dump, [GREETING, {"return": {}, "id": "cpuhp-1"},
                             {"event": "SHUTDOWN", "data": {"guest": True, "reason": "guest-panic"},
                              "timestamp": {"seconds": 1, "microseconds": 2}}])).encode()
    write("json_stream", "qmp-split", stream_seed(qmp, [10, 37, 5, 120]))
    agent = b'{"return": {"stale": 1}}\n\xff{"return": 4242}\n{"return": {"a\\"}{": "\\\\"}}'
    write("json_stream", "agent-discarding", stream_seed(agent, [3, 30, 1], discard=True))
    write("json_stream", "garbage-then-object",
          stream_seed(b'oops\n\xff{"return": [1, {"b": "]"}]}\n', [2, 8], resync=True))


# --- sysfs: the guest's files, byte for byte.
def sysfs_seeds():
    seen = set()
    for f in sorted((DATA / "guests").glob("*/sys/devices/system/cpu/**/*")):
        if not f.is_file():
            continue
        if f.parent.name in ("hotplug",) or f.name in ("online", "present", "possible", "offline") \
                or f.name.endswith("_list"):
            text = f.read_bytes()
            if text not in seen:
                seen.add(text)
                write("sysfs", f"{f.parent.name}-{f.name}-{len(seen)}", text)
    write("sysfs", "cpuinfo-intel", (DATA / "guests/intel-2s2c2t-onlined/proc/cpuinfo").read_bytes())
    write("sysfs", "offline-above-nr-cpu-ids", ",4-7\n")


# --- scenario: every shipped scenario and every bad one from the tests.
def scenario_seeds():
    for f in sorted((ROOT / "scenarios").rglob("*.yaml")):
        write("scenario", f"shipped-{f.stem}", f.read_bytes())
    for f in sorted((DATA / "bad-scenarios").glob("*.yaml")):
        write("scenario", f"bad-{f.stem}", f.read_bytes())


# --- transcript: a recorded run's transcript.log (util/transcript.h's format).
def transcript_seeds():
    lines = [
        "vm -- launch: qemu-system-x86_64 -machine q35 ...",
        "qmp <- " + json.dumps(GREETING, separators=(",", ":")),
        'qmp -> {"execute":"qmp_capabilities","id":"cpuhp-1"}',
        'qmp <- {"return":{},"id":"cpuhp-1"}',
        'qga -> {"arguments":{"id":42},"execute":"guest-sync-delimited"}',
        'qga <- {"return":42}',
        "scenario -- step 1: hotplug 1 +online",
        'qmp -> {"arguments":{"core-id":1,"driver":"qemu64-x86_64-cpu","id":"cpu-s0c1t0",'
        '"socket-id":0,"thread-id":0},"execute":"device_add","id":"cpuhp-3"}',
        'qmp <- {"return":{},"id":"cpuhp-3"}',
        'qmp <- {"data":{"info":{"device":"cpu-s0c1t0","slot":"1","source":1,"status":0}},'
        '"event":"ACPI_DEVICE_OST","timestamp":{"seconds":1,"microseconds":2}}',
        'qga -> {"arguments":{"vcpus":[{"logical-id":1,"online":true}]},"execute":"guest-set-vcpus"}',
        'qga <- {"return":1}',
        'qga -> {"arguments":{"mode":"r","path":"/sys/devices/system/cpu/online"},"execute":"guest-file-open"}',
        'qga <- {"return":1000}',
        'qga -> {"arguments":{"count":65536,"handle":1000},"execute":"guest-file-read"}',
        'qga <- {"return":{"buf-b64":"MC0xCg==","count":4,"eof":true}}',
        'qga -> {"arguments":{"mode":"w","path":"/sys/devices/system/cpu/cpu1/online"},"execute":"guest-file-open"}',
        'qga <- {"return":1001}',
        'qga -> {"arguments":{"buf-b64":"MA==","handle":1001},"execute":"guest-file-write"}',
        'qmp -> {"arguments":{"id":"cpu-s0c1t0"},"execute":"device_del","id":"cpuhp-4"}',
        'qmp <- {"data":{"device":"cpu-s0c1t0","path":"/machine/peripheral/cpu-s0c1t0"},'
        '"event":"DEVICE_DELETED","timestamp":{"seconds":2,"microseconds":3}}',
        'qmp -> {"arguments":{"uri":"unix:/tmp/x"},"execute":"migrate","id":"cpuhp-5"}',
    ]
    t = 0.0
    out = []
    for line in lines:
        t += 0.013
        out.append(f"2026-11-23T09:10:00.123Z +{t:.3f} {line}\n")
    write("transcript", "hotplug-run", "".join(out))


if __name__ == "__main__":
    for target in ("qmp_client", "agent_client", "json_stream", "sysfs", "scenario", "transcript"):
        d = CORPUS / target
        if d.exists():
            for f in d.iterdir():
                if not f.name.startswith(("crash-", "timeout-", "oom-", "leak-", "slow-")):
                    f.unlink()
    qmp_seeds()
    agent_seeds()
    json_stream_seeds()
    sysfs_seeds()
    scenario_seeds()
    transcript_seeds()
