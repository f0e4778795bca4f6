#!/usr/bin/env python3
"""Write the seed corpus of fuzz_runtime into fuzz/corpus/.

The encoding is described at the top of fuzz_runtime.c. Main and the
coroutines read from one cursor, so each seed below is written in the order
the scheduler (FIFO) lets them read; a comment tells who reads what.
Run it again after changing the encoding: python3 fuzz/make_corpus.py
"""
import os
import random

# main ops
SPAWN, PARK, JOIN, DETACH, RUN, MISC = 0, 2, 3, 4, 5, 6
# coroutine ops
C_PARK, C_SPAWN, C_JOIN, C_DETACH, C_END, C_MISC = 0, 2, 3, 4, 5, 6
# ATTR bits
MIN, MIN2, K64 = 0, 1, 2
DETACHED, NAMED, LONG, FPCTL = 4, 8, 16, 32


def handle_extra(n, k):
    """Handle byte for the k-th non-coroutine choice with n spawned:
    0: -1, 1: 0, 2: made up, 3: a mangled real one, 4: the previous input's."""
    return n + k


SEEDS = {
    # main spawns two, steps them once (co0 parks, co1 ends), runs the
    # rest, joins both, then joins co0 again (stale).
    "spawn_park_run": [SPAWN, MIN, SPAWN, MIN2, PARK, C_PARK, C_END, RUN, C_END,
                       JOIN, 0, JOIN, 1, JOIN, 0],
    # a coroutine joins itself (EDEADLK), then main joins it.
    "self_join": [SPAWN, NAMED, PARK, C_MISC, 2, C_END, JOIN, 0],
    # a join cycle: co0 joins co1, co1 joins co0; run and join give EDEADLK,
    # and the thread exits with both blocked.
    "join_cycle": [SPAWN, MIN, SPAWN, MIN, PARK, C_JOIN, 1, C_JOIN, 0,
                   RUN, JOIN, 0, JOIN, 1],
    # detach: one spawned detached, one detached later; joins are refused
    # (EINVAL), detaching twice too, then both end.
    "detach": [SPAWN, DETACHED, SPAWN, K64, DETACH, 1, DETACH, 1, JOIN, 0,
               JOIN, 1, PARK, C_END, C_PARK, RUN, C_END, JOIN, 1, DETACH, 0],
    # nested spawns from a coroutine, named and long-named, run to the end.
    "nested_spawn": [SPAWN, MIN, PARK, C_SPAWN, NAMED, C_SPAWN, NAMED | LONG | MIN2,
                     C_SPAWN, DETACHED | FPCTL, C_PARK, C_END, C_SPAWN, K64, C_END,
                     C_END, C_PARK, RUN, C_END, C_END, C_END],
    # every kind of handle that is no coroutine, then stale ones.
    "stale_handles": [SPAWN, MIN, RUN, C_END, JOIN, 0, JOIN, 0]
    + [x for k in range(5) for x in (JOIN, handle_extra(1, k))]
    + [DETACH, 0, DETACH, handle_extra(1, 2), MISC, 3],
    # two coroutines join the same one: the second gets EINVAL.
    "double_join": [SPAWN, MIN, SPAWN, MIN, SPAWN, MIN, PARK,
                    C_JOIN, 2,            # co0 blocks on co2
                    C_JOIN, 2, C_END,     # co1: EINVAL, ends
                    C_PARK,               # co2 parks (main's turn comes)
                    RUN, C_END, C_END, JOIN, 0, JOIN, 1, JOIN, 2],
    # main joins co0, which joins co1: main's join drives both.
    "main_join_drives": [SPAWN, MIN, SPAWN, MIN2, JOIN, 0,
                         C_JOIN, 1,        # co0 blocks on co1
                         C_PARK, C_PARK,   # co1 parks (alone: returns at once)
                         C_END,            # co1 ends, co0 wakes
                         C_END,            # co0 ends: main's join returns
                         JOIN, 1, JOIN, 0],
    # errors with no runtime, shutdown (0 and EBUSY), EPERM from inside.
    "misc_errors": [MISC, 0, MISC, 1, MISC, 2, SPAWN, MIN, MISC, 1, PARK,
                    C_MISC, 0, C_MISC, 1, C_MISC, 3, C_MISC, 4, C_END,
                    MISC, 1, JOIN, 0, MISC, 1],
    # detaching one that ended drops the result and releases the runtime;
    # a new runtime follows, and the old handle stays stale.
    "detach_ended_respawn": [SPAWN, NAMED, RUN, C_END, DETACH, 0, JOIN, 0,
                             SPAWN, MIN, DETACH, 1, RUN, C_DETACH, 1, C_END,
                             JOIN, 1, JOIN, 0],
    # a coroutine detaches itself, then one joined by another tries to.
    "self_detach": [SPAWN, MIN, SPAWN, MIN, PARK, C_DETACH, 0, C_JOIN, 1,
                    C_DETACH, 1, C_END, RUN, JOIN, 0],
    # many spawns with every attribute mix, then one long run.
    "many_spawns": [x for i in range(40) for x in (SPAWN, (i * 7) & 0x3f)]
    + [RUN] + [C_PARK, C_END] * 40 + [JOIN, 3, JOIN, 39],
}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out, exist_ok=True)
    for name, prog in SEEDS.items():
        data = bytes(prog)
        assert 4 <= len(data) <= 200, name
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    rng = random.Random(1)  # a few mixed ones, reproducibly
    for k in range(2):
        with open(os.path.join(out, "mixed_%d" % k), "wb") as f:
            f.write(bytes(rng.randrange(256) for _ in range(120 + 60 * k)))


if __name__ == "__main__":
    main()
