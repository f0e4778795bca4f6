#!/usr/bin/env python3
"""Write the seed corpus of fuzz_runtime into fuzz/corpus/.

The encoding is described at the top of fuzz_main.c. Main and the
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
# descriptor ops (main misc 8..11, coroutine misc 12..15)
M_FDCLOSE, M_OUTW, M_OUTR, M_FDCANCEL = 8, 9, 10, 11
C_READ, C_WRITE, C_WAITFD, C_FDMISC = 12, 13, 14, 15
# D byte: object, deadline, wait_fd events
PIPE0, PIPE1, SOCK = 0, 1, 2
DL0, DLSHORT, DLNEVER = 0, 4, 8
EV_IN, EV_OUT, EV_BOTH = 0, 16, 32
# ATTR bits
MIN, MIN2, K64 = 0, 1, 2
DETACHED, NAMED, LONG, FPCTL = 4, 8, 16, 32
# wait groups and mutexes: main misc 252, coroutine misc 240, then SYNC
M_SYNC, C_SYNC = 252, 240
WG_ADD, WG_DONE, WG_WAIT, FREE, LOCK, UNLOCK = 0, 1, 2, 3, 4, 6
WAIT, FREE_WG, MU1 = 8, 8, 16
# DELTA of WG_ADD
D1, D2, D3, DM1, DM2, D0, DMAX, DMIN = range(8)


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
    # two coroutines join the same one: both get its result.
    "double_join": [SPAWN, MIN, SPAWN, MIN, SPAWN, MIN, PARK,
                    C_JOIN, 2,            # co0 blocks on co2
                    C_JOIN, 2,            # co1 blocks on co2 too
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
    # channels: co0 sends on the unbuffered channel and waits, co1 receives;
    # co1 sends twice into the buffered one, main receives one (deadline 0),
    # closes it, co0 receives what is left and then gets EPIPE.
    "channels": [SPAWN, MIN, SPAWN, MIN, PARK,
                 C_MISC, 7, 0, 1,       # co0: send on ch0, wait
                 C_MISC, 8, 0, 1,       # co1: receive from ch0: co0 wakes
                 C_MISC, 7, 1, 0, C_MISC, 7, 1, 0, C_PARK,  # co1: two into ch1
                 C_MISC, 8, 1, 1,       # co0: receives one
                 C_PARK,                # co1 parks; main's turn
                 MISC, 6, 1, MISC, 7, 1, RUN,
                 C_MISC, 8, 1, 1, C_MISC, 8, 1, 1, C_END, C_END],
    # select: co0 selects (wait) over receive ch0 / receive ch1; co1 sends on
    # ch1 and wakes it; then both select without waiting on ready cases.
    "select": [SPAWN, MIN, SPAWN, MIN, PARK,
               C_MISC, 9, 0x1c,         # co0: recv ch0 | recv ch1, wait
               C_MISC, 7, 1, 1,         # co1: send ch1: co0 takes it
               C_MISC, 9, 0x0b, C_END,  # co1: send ch0 / send ch1, no wait
               C_MISC, 9, 0x13, C_END,  # co0: one of each, wait
               RUN],
    # sleep and cancel: co0 sleeps, co1 sleeps until 0, cancels co0 (which
    # may have woken), joins co0 with deadline 0, and co0 blocks forever
    # on a channel until main cancels it.
    "sleep_cancel": [SPAWN, MIN, SPAWN, MIN, PARK,
                     C_MISC, 6, 50,           # co0 sleeps 50 µs
                     C_MISC, 6, 0,            # co1: sleep until 0
                     C_MISC, 5, 0,            # co1 cancels co0
                     C_MISC, 11, 0, C_END,    # co1 joins co0 at once: ETIMEDOUT
                     C_MISC, 8, 0, 1,         # co0: canceled: ECANCELED
                     C_MISC, 6, 3, C_END,     # and sleeping too
                     RUN, MISC, 4, 1, JOIN, 0, JOIN, 1],
    # a read that waits on a pipe until the other process writes; main's
    # park collects the report and the reader gets all 18 bytes.
    "fd_read_wait": [SPAWN, MIN, PARK,
                     C_MISC, C_READ, PIPE0 | DLNEVER, 3,   # co0 waits
                     MISC, M_OUTW, PIPE0, 1,               # 18 bytes come
                     PARK, C_MISC, C_READ, PIPE0 | DL0, 0,  # nothing left
                     C_END, JOIN, 0],
    # a writer fills a pipe's page (deadline 0: cut short), a second write
    # waits for room, the other process drains it, the writer goes on.
    "fd_write_fill": [SPAWN, MIN, PARK,
                      C_MISC, C_WRITE, PIPE1 | DL0, 255,    # 4096 of 4336
                      C_MISC, C_WRITE, PIPE1 | DLNEVER, 10,  # waits for room
                      MISC, M_OUTR, PIPE1, 255,             # empties it
                      PARK, C_MISC, C_FDMISC, 3, PIPE1, 20,  # co0 reads the 171
                      C_END, JOIN, 0],
    # two readers on one descriptor: the second gets EBUSY; wait_fd for
    # output on the socket is ready at once; the other process writes.
    "fd_busy_waitfd": [SPAWN, MIN, SPAWN, MIN, PARK,
                       C_MISC, C_READ, SOCK | DLNEVER, 0,   # co0 waits
                       C_MISC, C_READ, SOCK | DLSHORT, 0,   # co1: EBUSY
                       C_MISC, C_WAITFD, SOCK | EV_BOTH | DL0,
                       C_MISC, C_WRITE, SOCK | DL0, 5,       # co1 writes
                       C_MISC, C_FDMISC, 2, 0x80 | SOCK, 2,  # outside write
                       C_END, PARK, C_END, RUN, JOIN, 0, JOIN, 1],
    # corun_close wakes a waiter with EBADF, the descriptor is made again,
    # a wait_fd on it waits, main cancels it (ECANCELED).
    "fd_close_cancel": [SPAWN, MIN, SPAWN, MIN, PARK,
                        C_MISC, C_WAITFD, PIPE0 | EV_IN | DLNEVER,  # co0
                        C_MISC, C_FDMISC, 0, PIPE0,   # co1 closes: EBADF
                        C_MISC, C_WAITFD, PIPE0 | EV_IN | DLNEVER,  # co0 again
                        C_PARK,                       # co1 parks
                        MISC, M_FDCANCEL, 0,          # main cancels co0
                        RUN, C_END, C_END, JOIN, 0, JOIN, 1],
    # short deadlines time out; a reader waiting forever when the input
    # ends is woken by the last close.
    "fd_deadlines": [SPAWN, MIN, SPAWN, MIN, PARK,
                     C_MISC, C_READ, PIPE1 | DLSHORT, 1,
                     C_MISC, C_WAITFD, SOCK | EV_IN | DLSHORT,
                     RUN, C_MISC, C_WRITE, PIPE1 | DLSHORT, 2,
                     C_MISC, C_READ, PIPE1 | DLNEVER, 0,
                     C_MISC, C_READ, SOCK | DLNEVER, 0],
    # a wait group: co0 waits for two dones from co1 and co2; then main
    # waits on zero (at once), with deadline 0 (ETIMEDOUT), adds too little
    # and too much (EINVAL), and frees it.
    "wait_group": [SPAWN, MIN, SPAWN, MIN, SPAWN, MIN,
                   MISC, M_SYNC, WG_ADD, D2,
                   PARK,
                   C_MISC, C_SYNC, WG_WAIT | WAIT,   # co0 waits
                   C_MISC, C_SYNC, WG_DONE, C_END,   # co1
                   C_MISC, C_SYNC, WG_DONE, C_END,   # co2: zero, co0 wakes
                   RUN, C_END,                       # co0 returns and ends
                   MISC, M_SYNC, WG_WAIT | WAIT,
                   MISC, M_SYNC, WG_ADD, D1, MISC, M_SYNC, WG_WAIT,
                   MISC, M_SYNC, WG_ADD, DM2, MISC, M_SYNC, WG_ADD, DMAX,
                   MISC, M_SYNC, FREE | FREE_WG,
                   JOIN, 0, JOIN, 1, JOIN, 2],
    # main waits on the wait group and co0's done wakes it; then main waits
    # where nobody is left to (EDEADLK).
    "wait_group_main": [SPAWN, MIN, MISC, M_SYNC, WG_ADD, D1,
                        MISC, M_SYNC, WG_WAIT | WAIT,  # main waits, co0 runs
                        C_MISC, C_SYNC, WG_DONE, C_END,
                        MISC, M_SYNC, WG_ADD, D1, MISC, M_SYNC, WG_WAIT | WAIT,
                        MISC, M_SYNC, WG_DONE, JOIN, 0],
    # a mutex handed over in line: main holds it, co0 and co1 wait, co2 is
    # refused (EPERM, ETIMEDOUT), main too (EDEADLK); main's unlock goes to
    # co0, whose end hands it to co1 (EOWNERDEAD); co1 ends holding mu1,
    # which main then takes (EOWNERDEAD), cannot free while held (EBUSY),
    # unlocks and frees.
    "mutex_handover": [SPAWN, MIN, SPAWN, MIN, SPAWN, MIN,
                       MISC, M_SYNC, LOCK,
                       PARK,
                       C_MISC, C_SYNC, LOCK | WAIT,           # co0 waits
                       C_MISC, C_SYNC, LOCK | WAIT,           # co1 waits
                       C_MISC, C_SYNC, UNLOCK, C_MISC, C_SYNC, LOCK, C_END,  # co2
                       MISC, M_SYNC, LOCK | WAIT, MISC, M_SYNC, UNLOCK,
                       RUN, C_END,                            # co0 ends holding
                       C_MISC, C_SYNC, UNLOCK,                # co1
                       C_MISC, C_SYNC, LOCK | MU1, C_END,
                       MISC, M_SYNC, LOCK | MU1, MISC, M_SYNC, FREE | MU1,
                       MISC, M_SYNC, UNLOCK | MU1, MISC, M_SYNC, FREE | MU1,
                       JOIN, 0, JOIN, 1, JOIN, 2],
    # main waits for the mutex co0 holds; co0 hands it over and waits for
    # it in turn; co0 ends holding it, and main's next lock is told.
    "mutex_main_waits": [SPAWN, MIN, PARK,
                         C_MISC, C_SYNC, LOCK, C_PARK,   # co0 takes it
                         MISC, M_SYNC, LOCK | WAIT,      # main waits
                         C_MISC, C_SYNC, UNLOCK,         # co0: to main
                         C_MISC, C_SYNC, LOCK | WAIT,    # co0 waits
                         MISC, M_SYNC, UNLOCK,           # main: to co0
                         RUN, C_END,
                         MISC, M_SYNC, LOCK, MISC, M_SYNC, UNLOCK, JOIN, 0],
    # two coroutines each hold one mutex and wait for the other's: run
    # gives EDEADLK, free EBUSY; the input's end cancels them to let go.
    "mutex_deadlock": [SPAWN, MIN, SPAWN, MIN, PARK,
                       C_MISC, C_SYNC, LOCK, C_PARK,                    # co0
                       C_MISC, C_SYNC, LOCK | MU1,                      # co1
                       C_MISC, C_SYNC, LOCK | WAIT,
                       RUN, C_MISC, C_SYNC, LOCK | MU1 | WAIT,          # co0
                       MISC, M_SYNC, FREE],
    # a waiter for a mutex canceled by main (ECANCELED).
    "mutex_cancel": [SPAWN, MIN, MISC, M_SYNC, LOCK, PARK,
                     C_MISC, C_SYNC, LOCK | WAIT,
                     MISC, 4, 0, RUN, C_END,
                     MISC, M_SYNC, UNLOCK, JOIN, 0],
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
