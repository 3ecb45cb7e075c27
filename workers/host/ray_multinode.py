# A job over several nodes on a Ray cluster: the driver of the Ray job (its entrypoint, one
# process on one node). workers/executors/ray.ts embeds this file in the entrypoint as
#   python3 -c '<this file>' --nodes N --gpus-per-node G [--env NAME]... -- <argv...>
# so nothing has to be shipped to the cluster. It reserves N bundles {"GPU": G, "CPU": 1} in a
# STRICT_SPREAD placement group (one bundle per node), starts one actor per bundle, asks rank 0's
# actor for its node's IP, and then runs argv once per node with PAIRWISE_NODE_RANK = the rank and
# PAIRWISE_MASTER_ADDR = rank 0's IP. Each rank's output is printed here as "<rank>: <line>" (as
# `srun --label` does), so it is in the Ray job's logs. The first rank to fail stops the others
# and the driver exits with its code: a torch process group cannot take back a restarted rank.
#
# Dependencies: only the `ray` already installed on the cluster (the Ray core API: ray.init,
# actors, placement groups, ray.util.get_node_ip_address; stable across Ray 2.x; tested with
# 2.58.0) and the Python standard library. Python >= 3.8.
#
# Environment: Ray workers do not inherit the driver's environment. The variables named by --env
# (the job's variables and the secrets the entrypoint exported) are read here, from this
# process's environment at run time, and handed to each rank as a method argument: their values
# are never in the submission, nor in an actor's runtime_env (which Ray's state API shows).
#
# Cleanup: each rank's command runs in its own process group, watched by a small detached
# process that holds one end of a pipe from the rank's actor. When the pipe closes (the rank is
# stopped, or its actor dies in any way: the driver exited or was killed, `ray.kill`, the
# worker crashed), the watcher sends SIGTERM to the group and SIGKILL after a grace period. So
# stopping the Ray job (SIGTERM to this driver, SIGKILL 3 s later) leaves no rank process.
import argparse
import os
import signal
import subprocess
import sys
import threading
import time

import ray
from ray.util.placement_group import placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

RANK_ENV = "PAIRWISE_NODE_RANK"
MASTER_ENV = "PAIRWISE_MASTER_ADDR"
TAG = "ray_multinode: "

# The watcher: forks away from the actor's worker (so a worker that kills its direct children on
# exit does not take it along), waits for EOF on stdin, then ends the process group.
WATCHER = (
    "import os, signal, sys, time\n"
    "pgid, grace = int(sys.argv[1]), float(sys.argv[2])\n"
    "if os.fork():\n"
    "    os._exit(0)\n"
    "try:\n"
    "    while os.read(0, 4096):\n"
    "        pass\n"
    "except OSError:\n"
    "    pass\n"
    "def alive():\n"
    "    try:\n"
    "        os.killpg(pgid, 0)\n"
    "        return True\n"
    "    except ProcessLookupError:\n"
    "        return False\n"
    "    except PermissionError:\n"
    "        return False\n"
    "for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 0)):\n"
    "    if not alive():\n"
    "        break\n"
    "    try:\n"
    "        os.killpg(pgid, sig)\n"
    "    except OSError:\n"
    "        break\n"
    "    deadline = time.monotonic() + wait\n"
    "    while alive() and time.monotonic() < deadline:\n"
    "        time.sleep(0.1)\n"
)


class Rank:
    # One node's share of the job, an actor on one bundle of the placement group.

    def __init__(self):
        self.proc = None
        self.watch_fd = None
        self.buffer = bytearray()
        self.lock = threading.Lock()
        self.reader = None
        self.dropped = 0

    def address(self):
        return ray.get_runtime_context().get_node_id(), ray.util.get_node_ip_address()

    def start(self, argv, env, grace):
        full = dict(os.environ)
        full.update(env)
        self.proc = subprocess.Popen(
            argv,
            env=full,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        read_fd, self.watch_fd = os.pipe()
        watcher = subprocess.Popen(
            [sys.executable, "-c", WATCHER, str(self.proc.pid), str(grace)],
            stdin=read_fd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        os.close(read_fd)
        watcher.wait()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        return self.proc.pid

    def _read(self):
        fd = self.proc.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            with self.lock:
                self.buffer += chunk
                # A driver that stops asking keeps at most 16 MB per rank.
                if len(self.buffer) > (16 << 20):
                    cut = len(self.buffer) - (8 << 20)
                    self.dropped += cut
                    del self.buffer[:cut]

    def _end_group(self):
        # Closing the pipe makes the watcher end the rank's process group.
        if self.watch_fd is not None:
            os.close(self.watch_fd)
            self.watch_fd = None

    def poll(self):
        # (output since the last call, exit code or None while running)
        code = self.proc.poll()
        if code is not None:
            # The command ended: anything it left in its group ends too, which closes the pipe.
            self._end_group()
            self.reader.join(10)
        with self.lock:
            out = bytes(self.buffer)
            self.buffer.clear()
            if self.dropped:
                out = ("[%d bytes of output dropped]\n" % self.dropped).encode() + out
                self.dropped = 0
        return out, code

    def stop(self, wait):
        if self.proc is None:
            return None
        self._end_group()
        try:
            return self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            return None


class Stop(Exception):
    def __init__(self, signum):
        super().__init__("signal %d" % signum)
        self.signum = signum


def say(message):
    sys.stdout.write(TAG + message + "\n")
    sys.stdout.flush()


def exit_code(code):
    # A rank killed by a signal exits as a shell reports it.
    if code < 0:
        return 128 - code
    return code if 0 < code < 256 else 1


def shown(resources, names):
    return ", ".join("%s %g" % (k, resources.get(k, 0)) for k in sorted(names))


def missing_resources(nodes, bundle):
    # Which nodes could hold a bundle at all, for the message when the placement group waits too long.
    lines = []
    fit = 0
    alive = [node for node in ray.nodes() if node.get("Alive")]
    for node in alive:
        total = node.get("Resources", {})
        ok = all(total.get(k, 0) >= v for k, v in bundle.items())
        fit += ok
        lines.append("  node %s (%s): %s in total%s" % (node.get("NodeID", "?")[:12], node.get("NodeManagerAddress", "?"), shown(total, bundle), "" if ok else ": too small"))
    head = (
        "needs %d nodes with %s free on each (STRICT_SPREAD: one bundle per node); %d of the %d alive node(s) have that much in total "
        "(one that has may be busy with other work; an autoscaler may still be adding nodes)" % (nodes, shown(bundle, bundle), fit, len(alive))
    )
    return head + (":\n" + "\n".join(lines) if lines else "")


def main():
    parser = argparse.ArgumentParser(prog="ray_multinode")
    parser.add_argument("--nodes", type=int, required=True)
    parser.add_argument("--gpus-per-node", type=float, default=0)
    parser.add_argument("--cpus-per-node", type=float, default=1)
    parser.add_argument("--env", action="append", default=[], help="a variable of this process to hand to every rank")
    parser.add_argument("--wait-seconds", type=float, default=900, help="how long the placement group may wait for nodes")
    parser.add_argument("--grace-seconds", type=float, default=10, help="SIGTERM to SIGKILL, when ranks are stopped")
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv or args.nodes < 1:
        parser.error("give --nodes >= 1 and a command after --")
    env = {name: os.environ[name] for name in args.env if name in os.environ}

    def on_signal(signum, frame):
        raise Stop(signum)

    ray.init(log_to_driver=False)

    bundle = {"CPU": args.cpus_per_node}
    if args.gpus_per_node > 0:
        bundle["GPU"] = args.gpus_per_node
    ranks = []
    pg = None
    try:
        # After ray.init, which installs handlers of its own.
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        pg = placement_group([dict(bundle) for _ in range(args.nodes)], strategy="STRICT_SPREAD")
        say("waiting up to %gs for %d bundles of %s, one per node" % (args.wait_seconds, args.nodes, shown(bundle, bundle)))
        if not pg.wait(args.wait_seconds):
            say("the placement group was not placed in %gs: it %s" % (args.wait_seconds, missing_resources(args.nodes, bundle)))
            return 1
        actor = ray.remote(Rank)
        for i in range(args.nodes):
            strategy = PlacementGroupSchedulingStrategy(placement_group=pg, placement_group_bundle_index=i)
            ranks.append(actor.options(num_cpus=args.cpus_per_node, num_gpus=args.gpus_per_node, max_restarts=0, scheduling_strategy=strategy).remote())
        # Rank 0's address first: every rank is started with it.
        places = [ray.get(r.address.remote()) for r in ranks]
        master = places[0][1]
        for i, (node_id, ip) in enumerate(places):
            say("rank %d on node %s (%s)" % (i, node_id, ip))
        grace = args.grace_seconds
        ray.get([r.start.remote(argv, dict(env, **{RANK_ENV: str(i), MASTER_ENV: master}), grace) for i, r in enumerate(ranks)])
        partial = [b""] * args.nodes
        running = set(range(args.nodes))
        while running:
            time.sleep(0.5)
            for i in sorted(running):
                try:
                    out, rc = ray.get(ranks[i].poll.remote(), timeout=120)
                except ray.exceptions.GetTimeoutError:
                    say("rank %d did not answer for 120s; stopping the job" % i)
                    return 1
                except ray.exceptions.RayActorError as error:
                    say("rank %d was lost (its node or worker died): %s" % (i, str(error).splitlines()[0] if str(error) else type(error).__name__))
                    return 1
                data = partial[i] + out
                lines = data.split(b"\n")
                partial[i] = lines.pop()
                # The rest of a rank's last line at its end, or of a line too long to hold (progress bars).
                if partial[i] and (rc is not None or len(partial[i]) > 65536):
                    lines.append(partial[i])
                    partial[i] = b""
                if lines:
                    sys.stdout.write("".join("%d: %s\n" % (i, line.decode("utf-8", "replace")) for line in lines))
                    sys.stdout.flush()
                if rc is None:
                    continue
                running.discard(i)
                if rc != 0:
                    say("rank %d exited with code %d; stopping the other ranks" % (i, rc))
                    return exit_code(rc)
        say("all %d ranks succeeded" % args.nodes)
        return 0
    except Stop as stop:
        say("stopped by signal %d; stopping the ranks" % stop.signum)
        return 128 + stop.signum
    finally:
        # Ignore a second signal while the ranks are stopped (Ray's job stop sends SIGKILL 3 s
        # after SIGTERM; the watchers finish the job if this one is cut short).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if ranks:
            try:
                ray.get([r.stop.remote(2) for r in ranks], timeout=2.5)
            except Exception:
                pass
            for r in ranks:
                try:
                    ray.kill(r)
                except Exception:
                    pass
        if pg is not None:
            try:
                remove_placement_group(pg)
            except Exception:
                pass


if __name__ == "__main__":
    sys.exit(main())
