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
# 13 refuses register writes on a core file anyway).
#
# Needs neither corun's debug information nor its symbols: the builds people
# ship are Release builds, often stripped, and so are the core files of
# them. Everything the commands know of corun's structs comes from the
# process itself:
#
# The registry (struct corun__registry, src/core/runtime.h): every runtime
# of the process, each with its thread's kernel id, matched against the
# selected thread's LWP. It is found by its section, corun_registry, in the
# section headers of the program and of each shared library (strip keeps
# them: the section is loaded data), or else by the symbol corun__registry.
# The thread-local corun__tls is the last resort, for a thread the registry
# does not know by its id (a forked child's): gdb reads thread-locals only
# through libthread_db, which fails on a core file of a static program.
#
# The layout tables (src/core/layout.h), which the registry points to:
# by name, the offset and size of each field read here, the constants
# (states, flags, and the reasons a coroutine waits for, each by its name),
# and the saved frame of a suspended context: where its resume address and
# callee-saved registers are. Built by offsetof and sizeof, they follow the
# structs; nothing here copies a private constant.
#
# What a coroutine waits on is the one record the runtime keeps of it, in
# the coroutine's record: why (co.wait_reason, one of the reason.*
# constants) and its object (co.wait_obj: the channel, the coroutine
# joined, the descriptor...), written when the wait begins. Only its
# deadline, if it has one, is read from the waiters it armed: the one with
# the deadline's id (id.deadline).
#
# Backtraces without resuming. A suspended coroutine's context is its saved
# frame (src/arch/*/switch_*.S, or the ucontext fallback's). A Python
# unwinder, active only while one of these commands runs, claims the
# selected thread's innermost frame and says that its caller's registers
# are the coroutine's; gdb then unwinds the coroutine's stack with its
# ordinary unwinders (the DWARF CFI of .eh_frame, which strip keeps, so a
# stripped program unwinds too), from the resume address on (a return
# address, so lines are looked up as for any caller frame). The output of
# gdb's own `bt` is printed without the real innermost frame and renumbered
# from #0. Frames: x86_64, AArch64 and RISC-V 64, assembly switch or
# ucontext; 64-bit targets only.

import re
import time

import gdb
import gdb.unwinder

REGISTRY_MAGIC = 0x636F7275726567  # "corureg"
REGISTRY_VERSION = 2
REGISTRY_SECTION = "corun_registry"
ENTRY_SIZE = 32  # struct corun__layout_entry: char name[20], u32 size, u64 value

# gdb's architecture for each ELF machine a frame is for (frame.machine),
# and its names for the resume address and the stack pointer.
_MACHINES = {62: "i386:x86-64", 183: "aarch64", 243: "riscv:rv64"}
_PC_SP = {"i386:x86-64": ("rip", "rsp"), "aarch64": ("pc", "sp"),
          "riscv:rv64": ("pc", "sp")}


class CorunError(gdb.GdbError):
    pass


def _lookup(expr):
    """The value of expr, or None when gdb cannot evaluate it."""
    try:
        return gdb.parse_and_eval(expr)
    except gdb.error:
        return None


# ---- memory ----

_ORDER = None


def _order():
    global _ORDER
    if _ORDER is None:
        out = gdb.execute("show endian", to_string=True)
        _ORDER = "big" if "big endian" in out else "little"
    return _ORDER


def _read(addr, n):
    return bytes(gdb.selected_inferior().read_memory(addr, n))


def _uint(addr, size=8):
    return int.from_bytes(_read(addr, size), _order())


def _int(blob, off, size, signed=False):
    return int.from_bytes(blob[off:off + size], _order(), signed=signed)


def _signed(v):
    """A table's value (64 bits) as the negative number it may be."""
    return v - (1 << 64) if v >= 1 << 63 else v


class Layout:
    """The layout tables a registry points to: name -> (value, size)."""

    def __init__(self, reg):
        self.entries = {}
        lists = _uint(reg + 24)
        for i in range(32):
            table = _uint(lists + 8 * i)
            if table == 0:
                break
            for j in range(512):
                e = _read(table + ENTRY_SIZE * j, ENTRY_SIZE)
                name = e[:20].split(b"\0", 1)[0].decode("ascii", "replace")
                if not name:
                    break
                self.entries[name] = (_int(e, 24, 8), _int(e, 20, 4))

    def has(self, name):
        return name in self.entries

    def val(self, name):
        try:
            return self.entries[name][0]
        except KeyError:
            raise CorunError("corun-gdb: corun's layout tables have no %s: "
                             "this script does not match the program's corun"
                             % name)

    def span(self, prefix):
        """The bytes a struct's fields (those named prefix.*) span."""
        return max(v + s for n, (v, s) in self.entries.items()
                   if n.startswith(prefix + ".") and s)

    def field(self, blob, name, signed=False):
        """Field name (an offset entry) of the struct read into blob."""
        off = self.val(name)
        return _int(blob, off, self.entries[name][1], signed)

    def read(self, addr, name, signed=False):
        """Field name of the struct at addr, read from memory."""
        off = self.val(name)
        size = self.entries[name][1]
        return int.from_bytes(_read(addr + off, size), _order(), signed=signed)


# ---- finding the runtime ----

def _registries():
    """The address of each corun registry in the program: one per copy of
    corun (the program's own, a shared library's)."""
    out = gdb.execute("info files", to_string=True)
    found = []
    for m in re.finditer(r"(0x[0-9a-fA-F]+) - (0x[0-9a-fA-F]+) is %s\b"
                         % REGISTRY_SECTION, out):
        lo, hi = int(m.group(1), 16), int(m.group(2), 16)
        for a in range(lo, hi - 7, 8):  # alone there, but look for it
            try:
                if _uint(a) == REGISTRY_MAGIC and a not in found:
                    found.append(a)
            except gdb.MemoryError:
                break
    if not found:
        sym = _lookup("(unsigned long)&corun__registry")
        if sym is not None and int(sym) != 0:
            found.append(int(sym))
    return found


class Runtime:
    def __init__(self, addr, layout, how):
        self.addr = addr
        self.L = layout
        self.how = how
        self.current = layout.read(addr, "rt.current")


def _runtime():
    """The selected thread's runtime, and how it was found. Raises
    CorunError when there is none."""
    thread = gdb.selected_thread()
    if thread is None:
        raise CorunError("corun-gdb: no thread selected (no process, no core file)")
    lwp = thread.ptid[1] or thread.ptid[0]
    regs = _registries()
    if not regs:
        raise CorunError("corun-gdb: no corun registry in this program (no "
                         "section %s, no symbol corun__registry): not linked "
                         "with corun, or with a corun older than this script"
                         % REGISTRY_SECTION)
    layout = None
    for reg in regs:
        if _uint(reg) != REGISTRY_MAGIC:
            raise CorunError("corun-gdb: the corun registry at %#x has a bad "
                             "magic number: memory damaged" % reg)
        version = _uint(reg + 8, 4)
        if version != REGISTRY_VERSION:
            raise CorunError("corun-gdb: the corun registry at %#x is version "
                             "%d; this script reads version %d (use the "
                             "corun-gdb.py of the corun the program was built "
                             "with)" % (reg, version, REGISTRY_VERSION))
        L = Layout(reg)
        layout = layout or L
        count = _uint(reg + 12, 4)
        rt = _uint(reg + 16)
        seen = 0
        while rt != 0 and seen <= count:
            if L.read(rt, "rt.reg_tid", signed=True) == lwp:
                return Runtime(rt, L, "registry")
            rt = L.read(rt, "rt.reg_next")
            seen += 1
    # A forked child's thread has a new id: the thread-local still knows
    # its runtime.
    tls = _lookup("(unsigned long)corun__tls")
    if tls is not None and int(tls) != 0:
        return Runtime(int(tls), layout, "corun__tls")
    raise CorunError("corun-gdb: thread %d (LWP %d) has no corun runtime"
                     % (thread.num, lwp))


# ---- saved frames ----

def _arch():
    try:
        return gdb.selected_inferior().architecture().name()
    except (gdb.error, AttributeError):
        return gdb.selected_frame().architecture().name()


def _frame_support(L):
    """(pc, sp) register names to unwind the saved frames of L's corun with,
    or a reason why they cannot be unwound (a str)."""
    machine = L.val("frame.machine")
    want = _MACHINES.get(machine)
    if want is None or not L.has("frame.pc"):
        return "corun's saved frames on this processor are unknown to " \
               "corun-gdb.py (ELF machine %d)" % machine
    arch = _arch()
    if arch != want:
        return "corun's frames are %s, but gdb's architecture is %s" % (want, arch)
    return _PC_SP[want]


# ---- the coroutines of a runtime ----

class Coroutine:
    def __init__(self, rt, addr, ident, is_main):
        L = rt.L
        self.rt = rt
        self.addr = addr  # its struct corun__co
        self.id = ident
        self.is_main = is_main
        self.running = rt.current == addr
        self.name = ""
        self.flags = self.state = self.sp = 0
        try:
            blob = _read(addr, L.span("co"))
        except gdb.MemoryError:
            blob = None
        if blob is not None:
            self.flags = L.field(blob, "co.flags")
            self.state = L.field(blob, "co.state")
            self.sp = L.field(blob, "co.sp")
            self.fn = L.field(blob, "co.fn")
            self.arg = L.field(blob, "co.arg")
            self.armed = L.field(blob, "co.armed")
            self.reason = L.field(blob, "co.wait_reason")
            self.obj = L.field(blob, "co.wait_obj")
            self.slot = L.field(blob, "co.slot")
            self.stack_lo = L.field(blob, "co.stack_lo")
            self.stack_size = L.field(blob, "co.stack_size")
            if self.flags & L.val("flag.named"):
                off = L.val("co.name")
                raw = blob[off:off + L.entries["co.name"][1]]
                self.name = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
        # Unreadable, or a record of zeros: its stack is not in the core
        # file (gcore on a Linux with MADV_GUARD_INSTALL guards: docs/debugging.md).
        self.unreadable = blob is None or (
            not is_main and self.state == 0 and self.sp == 0)

    def not_started(self):
        """A fresh context's frame sits right below its record."""
        if self.running or self.is_main or self.unreadable:
            return False
        return self.sp + self.rt.L.val("frame.size") == self.addr

    def saved_registers(self, names):
        """{register: value} of its saved context, or None while it runs."""
        if self.running or self.sp == 0 or self.unreadable:
            return None
        L = self.rt.L
        pc_name, sp_name = names
        regs = {n[4:]: _uint(self.sp + v) for n, (v, _) in L.entries.items()
                if n.startswith("reg.")}
        regs[pc_name] = _uint(self.sp + L.val("frame.pc"))
        if L.has("frame.sp"):  # the ucontext fallback saves it
            regs[sp_name] = _uint(self.sp + L.val("frame.sp"))
        else:  # the assembly switches: the caller's, above the frame
            regs[sp_name] = self.sp + L.val("frame.size")
        return regs

    def state_text(self):
        L = self.rt.L
        if self.unreadable:
            return "unreadable (its stack is not in the core file?)"
        if self.running:
            return "running"
        if self.state == L.val("state.runnable"):
            return "runnable (not started)" if self.not_started() else "runnable"
        if self.state == L.val("state.blocked"):
            return "waiting"
        if self.state == L.val("state.ended"):
            return "ended"
        return "state %d?" % self.state

    def stack_text(self):
        if self.unreadable:
            return "?"
        if self.is_main:
            return "(the thread's)"
        lo = self.stack_lo
        hi = lo + self.stack_size
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


def coroutines(rt):
    """Every live coroutine of rt, main first, then by slot."""
    L = rt.L
    out = [Coroutine(rt, rt.addr + L.val("rt.main"), 0, True)]
    slots = L.read(rt.addr, "rt.slots")
    n = L.read(rt.addr, "rt.nslots")
    stride = L.val("slot.size")
    table = _read(slots, n * stride) if n else b""
    live = L.val("slot.live")
    for i in range(n):
        s = table[i * stride:(i + 1) * stride]
        if L.field(s, "slot.state") != live:
            continue
        out.append(Coroutine(rt, L.field(s, "slot.co"), L.field(s, "slot.serial"),
                             False))
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
        # the bits of the slot index.
        bits = rt.L.val("handle.slot_bits")
        for c in cos:
            if not c.is_main and c.id == ident >> bits:
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
        self.names = None

    def __call__(self, pending):
        if self.regs is None or pending.level() != 0:
            return None
        pc_name, sp_name = self.names
        # The pseudo frame's id must not be above the coroutine's frames:
        # gdb stops a backtrace whose frames' stack addresses go down
        # ("previous frame inner to this frame"), and the coroutine's stack
        # may lie below the thread's. Stack address 1 is below them all
        # (gdb takes 0 for no frame id). gdb 13 takes only gdb.Values here,
        # and no 0.
        pc = pending.read_register(pc_name)
        sp = gdb.Value(1).cast(pending.read_register(sp_name).type)
        info = pending.create_unwind_info(_FrameId(sp, pc))
        for name, value in self.regs.items():
            typ = pending.read_register(name).type
            info.add_saved_register(name, gdb.Value(value).cast(typ))
        return info


_UNWINDER = _ContextUnwinder()
gdb.unwinder.register_unwinder(None, _UNWINDER, replace=True)


class _OnContext:
    """with _OnContext(regs, names): gdb.newest_frame().older() is the
    coroutine's innermost frame. Restores the frames and the selected frame
    after."""

    def __init__(self, regs, names):
        self.regs = regs
        self.names = names
        self.level = None

    def __enter__(self):
        try:
            self.level = gdb.selected_frame().level()
        except gdb.error:
            self.level = None
        _UNWINDER.regs = self.regs
        _UNWINDER.names = self.names
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
    """The coroutine's frames, innermost first, as (name, filename, line,
    pc); [] where its saved frame cannot be unwound."""
    out = []

    def walk(frame):
        # Past the outermost frame gdb may still make one whose pc it
        # cannot tell ("PC not saved"): the walk ends there.
        while frame is not None and len(out) < limit:
            try:
                sal = frame.find_sal()
                fname = sal.symtab.fullname() if sal.symtab else None
                out.append((frame.name(), fname, sal.line, frame.pc()))
                frame = frame.older()
            except gdb.error:
                break

    if c.running:
        walk(gdb.newest_frame())
        return out
    names = _frame_support(c.rt.L)
    if isinstance(names, str) or c.not_started():  # a fresh frame: no caller
        return out
    regs = c.saved_registers(names)
    if regs is None:
        return out
    with _OnContext(regs, names):
        try:
            frame = gdb.newest_frame().older()
        except gdb.error:
            return out
        walk(frame)
    return out


_INTERNAL = None


def _internal_dirs():
    """The directories of corun's own sources (src/core, src/arch,
    src/stack), from where corun_go was compiled (with debug information)."""
    global _INTERNAL
    if _INTERNAL is None:
        _INTERNAL = ()
        sym = gdb.lookup_global_symbol("corun_go")
        if sym is not None and sym.symtab is not None:
            core = sym.symtab.fullname().rsplit("/", 1)[0]
            src = core.rsplit("/", 1)[0]
            _INTERNAL = tuple(src + "/" + d + "/" for d in ("core", "arch", "stack"))
    return _INTERNAL


def _public(name):
    """A call of corun's API (corun_chan_recv, not corun__wait_queued)."""
    return name is not None and re.match(r"corun_[a-z]", name) is not None


def _internal(frame):
    """corun's own frame: by its name (gdb shows corun__x, without debug
    information, as corun.x), its source file, or its library."""
    name, fname, _, pc = frame
    if name and (name.startswith("corun_") or name.startswith("corun.")):
        return True
    if fname is not None and fname.startswith(_internal_dirs()):
        return True
    lib = gdb.solib_name(pc)
    return lib is not None and lib.rsplit("/", 1)[-1].startswith("libcorun.")


def _func_name(addr):
    """The name of the function at addr, or its address."""
    out = gdb.execute("info symbol %#x" % addr, to_string=True)
    m = re.match(r"(\S+)( \+ \d+)? in section", out)
    return m.group(1) if m else "%#x" % addr


def where(c, frames):
    """Where it is stopped: its innermost frame outside corun, and the
    corun call it is in, if any."""
    if c.unreadable:
        return "?"
    if c.not_started():
        return "not started: %s" % _func_name(c.fn)
    if not frames:
        why = _frame_support(c.rt.L)
        return "? (%s)" % why if isinstance(why, str) else "?"
    # Every frame inside corun's API call is corun's, named or not (its
    # static functions have no corun prefix: without debug information,
    # nothing else tells them).
    pub = next((i for i, f in enumerate(frames) if _public(f[0])), 0)
    call = None
    outside = []
    for i, f in enumerate(frames):
        if i < pub or _internal(f):
            # The public call it is in (corun_sleep), not an inner one
            # (corun_sleep_until); one made as a tail call leaves no frame,
            # and then none shows.
            if _public(f[0]) and not outside:
                call = f[0]
            continue
        outside.append(f)
    if outside:
        f = outside[0]
        # A suspended coroutine's innermost frames are corun's, but for a
        # park (a tail call: it resumes in its caller); a static function of
        # a corun without debug information tells itself by nothing, so a
        # frame of the program's with debug information is the better guess.
        if not c.running and f[0] is not None and f[1] is None:
            f = next((g for g in outside if g[1] is not None), f)
        name, fname, line, pc = f
        if name is None:  # no symbols: where it is, as an address
            loc = "%#x in ??" % pc
        elif fname:
            loc = "%s at %s:%d" % (name, fname.rsplit("/", 1)[-1], line)
        else:
            loc = name
        return loc + (" (in %s)" % call if call else "")
    name, _, _, pc = frames[0]
    return name or "%#x in ??" % pc


# ---- what a coroutine waits on ----

def _is_native():
    """Live, on this machine: its clock is ours."""
    conn = gdb.selected_inferior().connection
    return conn is not None and conn.type == "native"


def _deadline_text(ns):
    text = "deadline %d.%09ds" % divmod(ns, 1000000000)
    if _is_native():
        left = ns - time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        text += " (in %.3fs)" % (left / 1e9)
    return text


def _armed(c):
    """The waiters c has armed, newest first: (address, id)."""
    L = c.rt.L
    out = []
    w = c.armed
    while w != 0 and len(out) < 1024:
        out.append((w, L.read(w, "waiter.id", signed=True)))
        w = L.read(w, "waiter.next_armed")
    return out


def _join_text(c):
    """The coroutine it joins (its record is the object): id and name."""
    L = c.rt.L
    target = Coroutine(c.rt, c.obj, 0, False)
    if target.unreadable:
        return "join of ? (record %#x)" % c.obj
    slots = L.read(c.rt.addr, "rt.slots")
    serial = L.read(slots + target.slot * L.val("slot.size"), "slot.serial")
    return "join of %d%s" % (serial, " " + target.name if target.name else "")


def _select_text(c):
    """A select: its object is its cases; the waiters it armed for them
    have their indexes as ids."""
    L = c.rt.L
    if c.obj == 0:
        return "select with no clauses"
    ops = {L.val("op.send"): "send", L.val("op.recv"): "receive"}
    parts = []
    for i in sorted(i for _, i in _armed(c) if i >= 0):
        case = c.obj + i * L.val("case.size")
        op = L.read(case, "case.op", signed=True)
        parts.append("channel %#x (%s)" % (L.read(case, "case.chan"),
                                           ops.get(op, "op %d?" % op)))
    return "select: " + ", ".join(parts)


# What each reason's object is, and how it reads (co.h's list of reasons).
_REASON_TEXT = {
    "sleep": lambda c: "sleep, " + _deadline_text(_signed(c.obj)),
    "forever": lambda c: "sleep forever",
    "join": _join_text,
    "chan_send": lambda c: "channel %#x (send)" % c.obj,
    "chan_recv": lambda c: "channel %#x (receive)" % c.obj,
    "select": _select_text,
    "wg": lambda c: "wait group %#x" % c.obj,
    "mutex": lambda c: "mutex %#x" % c.obj,
    "fd_read": lambda c: "fd %d (read)" % _signed(c.obj),
    "fd_write": lambda c: "fd %d (write)" % _signed(c.obj),
    "fd_either": lambda c: "fd %d (read or write)" % _signed(c.obj),
    "task": lambda c: "task %#x (join)" % c.obj,
    "group": lambda c: "group %#x" % c.obj,
    "blocking": lambda c: "blocking call (job %#x)" % c.obj,
    "file": lambda c: "file %d" % _signed(c.obj),
}


def waits_on(c):
    """What c waits on, as text; '' when it is not waiting."""
    L = c.rt.L
    if c.running or c.unreadable or not (c.flags & L.val("flag.armed")) \
            or c.state != L.val("state.blocked"):
        return ""
    names = {v: n[len("reason."):] for n, (v, _) in L.entries.items()
             if n.startswith("reason.")}
    name = names.get(c.reason)
    if name is None:
        text = "reason %d? (object %#x)" % (c.reason, c.obj)
    elif name in _REASON_TEXT:
        text = _REASON_TEXT[name](c)
    else:  # a reason newer than this script: its name, and its object
        text = "%s %#x" % (name, c.obj)
    if name != "sleep":  # a sleep's object is its deadline
        dl = _signed(L.val("id.deadline"))
        for w, i in _armed(c):
            if i == dl:
                text += ", " + _deadline_text(L.read(w, "timer.deadline", signed=True))
                break
    if c.flags & L.val("flag.canceled"):
        text += " [canceled]"
    elif L.has("flag.cancel_held") and c.flags & L.val("flag.cancel_held"):
        text += " [canceled, shielded]"  # takes effect when unshielded
    return text


# ---- the commands ----

def _one_line(invoke):
    """gdb's errors (memory that cannot be read...) as one line, as ours."""
    def run(self, arg, from_tty):
        try:
            return invoke(self, arg, from_tty)
        except gdb.GdbError:
            raise
        except gdb.error as e:
            raise CorunError("corun-gdb: %s" % e)
    return run


class InfoCoroutines(gdb.Command):
    """List the coroutines of the selected thread's corun runtime.

Usage: info coroutines

For each live coroutine (and the thread's main context, id 0): its id (what
corun_id returns), name, state (running, runnable, waiting), what it waits
on (a sleep, a join, a channel, a select, a wait group, a mutex, a
descriptor; and its deadline, if any), its stack (its range,
and how deep it is in use now: from its top to its stack pointer), and where
it is stopped (its innermost frame outside corun, and the corun call it is
in). Reads memory only: works on a core file, and without debug
information or symbols."""

    def __init__(self):
        super().__init__("info coroutines", gdb.COMMAND_STACK)

    @_one_line
    def invoke(self, arg, from_tty):
        rt = _runtime()
        cos = coroutines(rt)
        gdb.write("runtime %#x (found by %s), %d coroutines live\n"
                  % (rt.addr, rt.how, rt.L.read(rt.addr, "rt.live")))
        rows = []
        for c in cos:
            frames = _frames(c)
            rows.append(("*" if c.running else " ", str(c.id), c.name or "-",
                         c.state_text(), waits_on(c) or "-",
                         c.stack_text(), where(c, frames)))
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

    @_one_line
    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if not argv:
            raise CorunError("usage: coroutine ID|NAME [bt [BT-ARGS]]")
        rt = _runtime()
        c = find(rt, argv[0])
        if len(argv) == 1:
            gdb.write("%d %s %s %s %s %s\n" % (
                c.id, c.name or "-", c.state_text(), waits_on(c) or "-",
                c.stack_text(), where(c, _frames(c))))
            return
        if argv[1] not in ("bt", "backtrace"):
            raise CorunError("usage: coroutine ID|NAME [bt [BT-ARGS]]")
        gdb.write(backtrace(c, argv[2:]))


def backtrace(c, bt_args):
    """gdb's backtrace of coroutine c, as text."""
    if c.running:
        return gdb.execute("backtrace " + " ".join(bt_args), to_string=True)
    if c.unreadable:
        raise CorunError("corun-gdb: coroutine %d's record cannot be read: "
                         "its stack is not in the core file" % c.id)
    if c.not_started():
        return "#0  %s (not started; arg=%#x)\n" % (_func_name(c.fn), c.arg)
    names = _frame_support(c.rt.L)
    if isinstance(names, str):
        raise CorunError("corun-gdb: no backtrace of a suspended coroutine: "
                         + names)
    args = []
    for a in bt_args:  # a count counts frames: ours start one further
        if re.fullmatch(r"\d+", a):
            a = str(int(a) + 1)
        args.append(a)
    with _OnContext(c.saved_registers(names), names):
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
