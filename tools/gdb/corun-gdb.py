# corun-gdb.py: gdb commands for corun's coroutines.
#
#   (gdb) source tools/gdb/corun-gdb.py
#   (gdb) info coroutines
#   (gdb) coroutine ID bt [bt's options: full, N, -N, -frame-arguments...]
#   (gdb) coroutine NAME bt
#   (gdb) coroutine ID          (one line: what info coroutines says of it)
#
# Works on a live process and on a core file alike: everything is read from
# memory, nothing in the process is called, and no register is written (gdb
# 13 refuses register writes on a core file anyway). See STATUS.md here.
#
# Finding the runtime. The selected thread's runtime is looked up in corun's
# registry (struct corun__registry in src/core/runtime.h, the symbol
# corun__registry): a list of every runtime with its thread's kernel id,
# matched against the selected thread's LWP. The thread-local corun__tls is
# the fallback, for a corun without the registry: gdb reads thread-locals
# only through libthread_db, which fails on a core file of a static program.
#
# Backtraces without resuming. A suspended coroutine's context is its saved
# frame (src/arch/x86_64/switch_sysv_elf.S): r15, r14, r13, r12, rbx, rbp,
# the resume address, and above it the caller's stack. A Python unwinder,
# active only while one of these commands runs, claims the selected
# thread's innermost frame and says that its caller's registers are the
# coroutine's; gdb then unwinds the coroutine's stack with its ordinary
# DWARF unwinders, from the resume address on (a return address, so lines
# are looked up as for any caller frame). The output of gdb's own `bt` is
# printed without the real innermost frame and renumbered from #0.
#
# Needs corun's debug information (the structs' layouts); x86_64 for the
# backtraces and stop locations (the listing itself is portable).

import re
import struct
import time

import gdb
import gdb.unwinder

SLOT_LIVE = 1
STATE_RUNNABLE, STATE_BLOCKED, STATE_ENDED = 1, 2, 3
F_NAMED, F_CANCELED, F_ARMED = 0x2, 0x4, 0x8
REGISTRY_MAGIC = 0x636F7275726567
REGISTRY_VERSION = 1
FD_ID_IN, FD_ID_OUT = 1, 2  # src/core/fd.c
# x86_64 saved frame: (register, offset); the caller's rsp is sp + 0x38.
X86_64_FRAME = (("r15", 0x00), ("r14", 0x08), ("r13", 0x10), ("r12", 0x18),
                ("rbx", 0x20), ("rbp", 0x28), ("rip", 0x30))
X86_64_FRAME_SIZE = 0x38


class CorunError(gdb.GdbError):
    pass


def _lookup(expr):
    """The value of expr, or None when gdb cannot evaluate it."""
    try:
        return gdb.parse_and_eval(expr)
    except gdb.error:
        return None


def _type(name):
    try:
        return gdb.lookup_type(name)
    except gdb.error:
        raise CorunError("corun-gdb: no type %s: corun's debug information "
                         "is needed" % name)


def _u64(addr):
    mem = gdb.selected_inferior().read_memory(addr, 8)
    return struct.unpack("<Q", bytes(mem))[0]


def _func_name(addr):
    """The name of the function containing addr, or None."""
    try:
        block = gdb.block_for_pc(addr)
    except RuntimeError:
        block = None
    # The outermost function block: inner ones are functions inlined in it.
    name = None
    while block is not None and not (block.is_static or block.is_global):
        if block.function is not None:
            name = block.function.name
        block = block.superblock
    if name is not None:
        return name
    out = gdb.execute("info symbol %#x" % addr, to_string=True)
    m = re.match(r"(\S+)( \+ \d+)? in section", out)
    return m.group(1) if m else None


def _is_live():
    conn = gdb.selected_inferior().connection
    return conn is not None and conn.type != "core"


def _is_x86_64():
    try:
        arch = gdb.selected_frame().architecture().name()
    except gdb.error:
        return False
    return arch == "i386:x86-64"


# ---- finding the runtime ----

def _runtime():
    """The selected thread's struct corun__rt * (a gdb.Value), and how it
    was found. Raises CorunError when there is none."""
    thread = gdb.selected_thread()
    if thread is None:
        raise CorunError("corun-gdb: no thread selected")
    lwp = thread.ptid[1] or thread.ptid[0]
    reg = _lookup("&corun__registry")
    if reg is not None and int(reg) != 0:
        reg = reg.dereference()
        if int(reg["magic"]) != REGISTRY_MAGIC:
            raise CorunError("corun-gdb: corun__registry has a bad magic "
                             "number: memory damaged, or not corun's")
        if int(reg["version"]) != REGISTRY_VERSION:
            raise CorunError("corun-gdb: corun__registry is version %d; this "
                             "script reads version %d"
                             % (int(reg["version"]), REGISTRY_VERSION))
        rt = reg["head"]
        seen = 0
        while int(rt) != 0 and seen <= int(reg["count"]):
            if int(rt["reg_tid"]) == lwp:
                return rt, "registry"
            rt = rt["reg_next"]
            seen += 1
        # A forked child's thread has a new id: the thread-local still
        # knows its runtime.
    tls = _lookup("corun__tls")
    if tls is not None and int(tls) != 0:
        return tls, "corun__tls"
    raise CorunError("corun-gdb: thread %d (LWP %d) has no corun runtime"
                     % (thread.num, lwp))


# ---- the coroutines of a runtime ----

class Coroutine:
    def __init__(self, rt, co, ident, is_main):
        self.rt = rt
        self.co = co  # struct corun__co * (gdb.Value)
        self.id = ident
        self.is_main = is_main
        flags = int(co["flags"])
        if flags & F_NAMED:
            self.name = co["name"].string(length=_cstrlen(co["name"]))
        else:
            self.name = ""
        self.flags = flags
        self.running = int(rt["current"]) == int(co)
        self.state = int(co["state"])
        self.sp = int(co["sp"])
        # A record of zeros: its stack is not in the core file (gcore on a
        # Linux with MADV_GUARD_INSTALL guards: see STATUS.md).
        self.unreadable = not is_main and self.state == 0 and self.sp == 0

    def saved_registers(self):
        """{register: value} of its saved context, or None while it runs."""
        if self.running or self.sp == 0 or self.unreadable:
            return None
        regs = {name: _u64(self.sp + off) for name, off in X86_64_FRAME}
        regs["rsp"] = self.sp + X86_64_FRAME_SIZE
        return regs

    def not_started(self):
        if self.running or self.sp == 0 or self.is_main:
            return False
        start = _lookup("(unsigned long)&corun__ctx_start")
        return start is not None and _u64(self.sp + 0x30) == int(start)

    def state_text(self):
        if self.unreadable:
            return "unreadable (its stack is not in the core file?)"
        if self.running:
            return "running"
        if self.state == STATE_RUNNABLE:
            return "runnable (not started)" if self.not_started() else "runnable"
        if self.state == STATE_BLOCKED:
            return "waiting"
        if self.state == STATE_ENDED:
            return "ended"
        return "state %d?" % self.state

    def stack_text(self):
        if self.unreadable:
            return "?"
        if self.is_main:
            return "(the thread's)"
        lo = int(self.co["stack"]["lo"])
        hi = lo + int(self.co["stack"]["size"])
        text = "%#x-%#x" % (lo, hi)
        sp = self.sp
        if self.running:
            try:
                sp = int(gdb.newest_frame().read_register("sp"))
            except gdb.error:
                sp = 0
        if lo <= sp < hi:  # how deep it is now: the stack in use below the top
            text += " %.1f KiB used" % ((hi - sp) / 1024.0)
        return text


def _cstrlen(arr):
    n = arr.type.sizeof
    for i in range(n):
        if int(arr[i]) == 0:
            return i
    return n


def coroutines(rt):
    """Every live coroutine of rt, main first, then by slot."""
    out = [Coroutine(rt, rt["main"].address, 0, True)]
    handles = rt["handles"]
    slots = handles["slots"]
    for i in range(int(handles["n"])):
        slot = slots[i]
        if int(slot["state"]) != SLOT_LIVE:
            continue
        out.append(Coroutine(rt, slot["u"]["co"], int(slot["serial"]), False))
    return out


def find(rt, key):
    cos = coroutines(rt)
    try:
        ident = int(key, 0)
    except ValueError:
        ident = None
    if ident is not None:
        for c in cos:
            if c.id == ident:
                return c
        # A handle (corun_t) names the same coroutine: its serial is above
        # the 24 bits of the slot index.
        for c in cos:
            if not c.is_main and c.id == ident >> 24:
                return c
        raise CorunError("corun-gdb: no live coroutine with id %s" % key)
    named = [c for c in cos if c.name == key]
    if len(named) == 1:
        return named[0]
    if not named:
        raise CorunError("corun-gdb: no live coroutine named %s" % key)
    raise CorunError("corun-gdb: %d coroutines are named %s: use the id"
                     % (len(named), key))


# ---- the unwinder ----

class _FrameId:
    """A frame id for create_unwind_info (gdb 13 has no
    gdb.unwinder.FrameId; any object with sp and pc, gdb.Values, does)."""

    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


class _ContextUnwinder(gdb.unwinder.Unwinder):
    """While `regs` is set: the innermost frame's caller is the coroutine
    whose saved registers these are."""

    def __init__(self):
        super().__init__("corun-coroutine")
        self.regs = None

    def __call__(self, pending):
        if self.regs is None or pending.level() != 0:
            return None
        # The pseudo frame's id must not be above the coroutine's frames:
        # gdb stops a backtrace whose frames' stack addresses go down
        # ("previous frame inner to this frame"), and the coroutine's stack
        # may lie below the thread's. Stack address 1 is below them all (gdb takes 0 for no frame id).
        # gdb 13 takes only gdb.Values here, and no 0.
        pc = pending.read_register("rip")
        sp = gdb.Value(1).cast(pending.read_register("rsp").type)
        info = pending.create_unwind_info(_FrameId(sp, pc))
        for name, value in self.regs.items():
            typ = pending.read_register(name).type
            info.add_saved_register(name, gdb.Value(value).cast(typ))
        return info


_UNWINDER = _ContextUnwinder()
gdb.unwinder.register_unwinder(None, _UNWINDER, replace=True)


class _OnContext:
    """with _OnContext(regs): gdb.newest_frame().older() is the coroutine's
    innermost frame. Restores the frames and the selected frame after."""

    def __init__(self, regs):
        self.regs = regs
        self.level = None

    def __enter__(self):
        try:
            self.level = gdb.selected_frame().level()
        except gdb.error:
            self.level = None
        _UNWINDER.regs = self.regs
        gdb.invalidate_cached_frames()
        return self

    def __exit__(self, *exc):
        _UNWINDER.regs = None
        gdb.invalidate_cached_frames()
        if self.level:
            try:
                gdb.execute("frame %d" % self.level, to_string=True)
            except gdb.error:
                pass
        return False


def _frames(c, limit=64):
    """The coroutine's frames, innermost first, as (name, filename, line)."""
    out = []

    def walk(frame):
        while frame is not None and len(out) < limit:
            sal = frame.find_sal()
            fname = sal.symtab.fullname() if sal.symtab else None
            out.append((frame.name(), fname, sal.line))
            try:
                frame = frame.older()
            except gdb.error:
                break

    if c.running:
        walk(gdb.newest_frame())
        return out
    regs = c.saved_registers()
    if regs is None:
        return out
    with _OnContext(regs):
        walk(gdb.newest_frame().older())
    return out


_INTERNAL = None


def _internal_dirs():
    """The directories of corun's own sources (src/core, src/arch,
    src/stack), from where corun_go was compiled."""
    global _INTERNAL
    if _INTERNAL is None:
        _INTERNAL = ()
        sym = gdb.lookup_global_symbol("corun_go")
        if sym is not None and sym.symtab is not None:
            core = sym.symtab.fullname().rsplit("/", 1)[0]
            src = core.rsplit("/", 1)[0]
            _INTERNAL = tuple(src + "/" + d + "/" for d in ("core", "arch", "stack"))
    return _INTERNAL


def _internal(frame):
    name, fname, _ = frame
    if name and name.startswith("corun_"):
        return True
    return fname is not None and fname.startswith(_internal_dirs())


def where(c, frames=None):
    """Where it is stopped: its innermost frame outside corun, and the
    corun call it is in, if any."""
    if c.unreadable:
        return "?"
    if c.not_started():
        return "not started: %s" % (_func_name(int(c.co["fn"])) or "?")
    if frames is None:
        frames = _frames(c)
    call = None
    for f in frames:
        if _internal(f):
            # The public call it is in (corun_chan_recv), not an inner one;
            # one made as a tail call leaves no frame, and then none shows.
            if f[0] and f[0].startswith("corun_") and not f[0].startswith("corun__"):
                call = f[0]
            continue
        name, fname, line = f
        loc = "%s at %s:%d" % (name or "??", fname.rsplit("/", 1)[-1], line) \
            if fname else (name or "??")
        return loc + (" (in %s)" % call if call else "")
    return frames[0][0] if frames else "?"


# ---- what a coroutine waits on ----

def _deadline_text(ns):
    text = "deadline %d.%09ds" % divmod(ns, 1000000000)
    if _is_live():
        left = ns - time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        text += " (in %.3fs)" % (left / 1e9)
    return text


# enum corun__qwhat (src/core/wait.h): what a queued waiter waits on.
_QWHAT = {1: ("channel", "send"), 2: ("channel", "receive"),
          3: ("channel", "select send"), 4: ("channel", "select receive"),
          5: ("wait group", None), 6: ("mutex", None)}


def _queue_text(qw):
    """A waiter on a queue: what it waits on, as its arming recorded."""
    what = _QWHAT.get(int(qw["what"]))
    obj = int(qw["obj"])
    if what is None:
        return "queue %#x" % int(qw["q"])
    noun, op = what
    return "%s %#x" % (noun, obj) + (" (%s)" % op if op else "")


def _field_off(tname, field):
    t = _type(tname)
    return next(f.bitpos // 8 for f in t.fields() if f.name == field)


def waits_on(c, frames=None):
    """What c waits on, as text; '' when it is not waiting."""
    if c.running or not (c.flags & F_ARMED) or c.state != STATE_BLOCKED:
        return ""
    rt = c.rt
    waiter_t = _type("struct corun__waiter")
    w = c.co["armed"]
    parts = []
    n = 0
    while int(w) != 0 and n < 1024:
        n += 1
        wd = int(w["withdraw"])
        kind = _func_name(wd) if wd else None
        if wd == 0:
            parts.append("nothing (forever)")
        elif kind == "withdraw_deadline":
            t = w.cast(_type("struct corun__timer").pointer())
            parts.append(_deadline_text(int(t["deadline"])))
        elif kind == "withdraw_join":
            # struct joining (coroutine.c): the waiter, then the target.
            target = gdb.Value(int(w) + waiter_t.sizeof).cast(
                _type("struct corun__co").pointer().pointer()).dereference()
            slot = rt["handles"]["slots"][int(target["slot"])]
            tname = ""
            if int(target["flags"]) & F_NAMED:
                tname = " " + target["name"].string(length=_cstrlen(target["name"]))
            parts.append("join of %d%s" % (int(slot["serial"]), tname))
        elif kind == "withdraw_fd":
            fd = int(w["ptr"])
            way = {FD_ID_IN: "read", FD_ID_OUT: "write"}.get(int(w["id"]), "?")
            parts.append("fd %d (%s)" % (fd, way))
        elif kind == "corun__withdraw_queued":
            parts.append(_queue_text(w.cast(_type("struct corun__qwait").pointer()).dereference()))
        else:
            parts.append("%s %#x" % (kind or "waiter", int(w)))
        w = w["next_armed"]
    text = ", ".join(reversed(parts))  # in arming order
    if c.flags & F_CANCELED:
        text += " [canceled]"
    return text


# ---- the commands ----

class InfoCoroutines(gdb.Command):
    """List the coroutines of the selected thread's corun runtime.

Usage: info coroutines

For each live coroutine (and the thread's main context, id 0): its id (what
corun_id returns), name, state (running, runnable, waiting), what it waits
on (a deadline, a channel, a descriptor, a join...), its stack (its range,
and how deep it is in use now: from its top to its stack pointer), and where
it is stopped (its innermost frame outside corun, and the corun call it is
in). Reads memory only: works on a core file."""

    def __init__(self):
        super().__init__("info coroutines", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        rt, how = _runtime()
        cos = coroutines(rt)
        x86 = _is_x86_64()
        gdb.write("runtime %#x (found by %s), %d coroutines live\n"
                  % (int(rt), how, int(rt["live"])))
        rows = []
        for c in cos:
            frames = _frames(c) if x86 else []
            rows.append(("*" if c.running else " ", str(c.id), c.name or "-",
                         c.state_text(), waits_on(c, frames) or "-",
                         c.stack_text(),
                         where(c, frames) if x86 else "(x86_64 only)"))
        head = (" ", "Id", "Name", "State", "Waits on", "Stack", "Where")
        widths = [max(len(r[i]) for r in rows + [head]) for i in range(6)]
        for r in [head] + rows:
            gdb.write(" ".join(r[i].ljust(widths[i]) for i in range(6))
                      + " " + r[6] + "\n")


class CoroutineCommand(gdb.Command):
    """Show a coroutine of the selected thread's corun runtime.

Usage: coroutine ID|NAME [bt [BT-ARGS]]

ID is what info coroutines shows (corun_id; 0 is the thread's main context);
a corun_t handle works too; NAME, a unique name. Without bt: its line of
info coroutines. With bt: its backtrace, from its saved registers, without
resuming it (on a core file too); BT-ARGS go to gdb's backtrace command
(full, a count, -frame-arguments all...)."""

    def __init__(self):
        super().__init__("coroutine", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if not argv:
            raise CorunError("usage: coroutine ID|NAME [bt [BT-ARGS]]")
        rt, _ = _runtime()
        c = find(rt, argv[0])
        if len(argv) == 1:
            frames = _frames(c) if _is_x86_64() else []
            gdb.write("%d %s %s %s %s %s\n" % (
                c.id, c.name or "-", c.state_text(), waits_on(c, frames) or "-",
                c.stack_text(), where(c, frames)))
            return
        if argv[1] not in ("bt", "backtrace"):
            raise CorunError("usage: coroutine ID|NAME [bt [BT-ARGS]]")
        gdb.write(backtrace(c, argv[2:]))


def backtrace(c, bt_args):
    """gdb's backtrace of coroutine c, as text."""
    if c.running:
        return gdb.execute("backtrace " + " ".join(bt_args), to_string=True)
    if c.unreadable:
        raise CorunError("corun-gdb: coroutine %d's record reads as zeros: its "
                         "stack is not in the core file" % c.id)
    if not _is_x86_64():
        raise CorunError("corun-gdb: backtraces of suspended coroutines are "
                         "implemented for x86_64 only")
    if c.not_started():
        return "#0  %s (not started; arg=%#x)\n" % (
            _func_name(int(c.co["fn"])) or "?", int(c.co["arg"]))
    args = []
    for a in bt_args:  # a count counts frames: ours start one further
        if re.fullmatch(r"\d+", a):
            a = str(int(a) + 1)
        args.append(a)
    with _OnContext(c.saved_registers()):
        out = gdb.execute("backtrace " + " ".join(args), to_string=True)
    lines = out.splitlines(True)
    # Drop frame #0 (the thread's real innermost frame) and what follows it
    # up to frame #1 (its locals, with bt full), and renumber.
    i = 0
    while i < len(lines) and not lines[i].startswith("#1 "):
        i += 1
    kept = lines[i:]

    def renumber(m):
        n = int(m.group(1)) - 1
        return "#%-*d" % (len(m.group(0)) - 1, n)

    return "".join(re.sub(r"^#(\d+)\s*", renumber, l) if l.startswith("#") else l
                   for l in kept)


InfoCoroutines()
CoroutineCommand()
