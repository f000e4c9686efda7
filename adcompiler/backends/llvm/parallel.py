"""Large array loops split over threads: a loop body outlined into a chunk function.

A loop writing a new array element by element (``elementwise.materialize``, the one-pass
write of ``scatter``) is emitted through :func:`split_loop`: its body, the loops over
``[lo, hi)`` of the leading index and everything inside, goes into a function of its own,
``void chunk(i8* context, i64 lo, i64 hi)``. The values of ``adc_core`` it reads (data
pointers, shapes, strides, scalars) are found after the body is emitted and passed in a
struct on ``adc_core``'s stack. ``adc_core`` then calls ``chunk(context, 0, n)`` when the
loop is small, and the region runner ``adc_parallel_run`` when it is large: the runner
cuts the range into chunks that the caller and the pool's threads share (see "the pool"
below). Every element is computed by the same code whichever thread computes it, so the
results are the serial ones to the bit.

Only bodies that cannot fail, allocate or touch a reference count qualify: where emitting
the body asks for any of those (``Lowerer.fail_if``, ``blocks``, ``incref``), it raises
:class:`NotParallel` and the loop is emitted in place, serially, as before.

Large float sums use the same machinery through :func:`split` (``pairwise``): their two
halves are two tasks.

Code for threads is compiled only when a loop turns out large. Outlining and the pool's code
cost compile time (an eighth of the LLVM work of a network's gradient) that most functions
never use back: their loops are small. So the code compiled first for a function, quick and
then optimised (``Lowerer.ask_for_threads``; ``compiled``'s docstring has the tiers), runs
every loop serially, in place; where a loop could run on threads (its body could be
outlined: :func:`ask`), it tells the process when it is large, by setting ``threads``'
``adc_threads_wanted``. The function's wrapper sees that after the call and compiles the
code described above in the background (``compiled``), then calls that instead. Both give
the same results to the bit, so the switch is invisible but for the speed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from llvmlite import ir

from . import threads
from .elementwise import index_product
from .types import I8P, I32, I64

if TYPE_CHECKING:
    from .lower import Lowerer

#: a loop runs on threads from this many units of work (elements times their
#: ``analysis.Plan.element_cost``, at most :data:`MAX_COST`) up: below it, waking threads
#: costs more than they save
THRESHOLD = 1 << 18
#: the most an element counts for: the loops are vectorised and mostly wait for memory, and
#: Rosenbrock's gradient (cost 39) at 16 went to threads from 8192 elements, 6 us of work
MAX_COST = 4
#: at most this many threads per loop
MAX_THREADS = 64
#: a region's range is cut into this many chunks per thread, claimed one at a time: a thread
#: that another process delays takes fewer, and the caller waits at the end for the one it
#: holds (Rosenbrock's gradient at 10^6 with no core free: 1.20x the serial time with 8 per
#: thread, 1.11x with 32, 64 or 128)
CHUNKS_PER_THREAD = 32
#: how often the caller looks whether the other threads are done before it sleeps
SPIN = 1024

T = TypeVar("T")
VOID = ir.VoidType()
CHUNK = ir.FunctionType(VOID, [I8P, I64, I64])


class NotParallel(Exception):
    """A loop body asked for something a chunk function cannot do (fail, allocate, count
    references): the loop stays serial."""


def split_loop(lw: Lowerer, shape: Sequence[ir.Value], body: Callable[[ir.Value, ir.Value], None]) -> None:
    """Emit ``body(lo, hi)``, the loops visiting the indices of ``shape`` whose first is in
    ``range(lo, hi)``, for all of them: on several threads when the loop is large."""
    n = shape[0]
    if asking(lw):
        ask(lw, _work(lw, shape), lambda: body(ir.Constant(I64, 0), n))
    elif not outlining(lw) or not split(lw, n, _work(lw, shape), body):
        body(ir.Constant(I64, 0), n)


def outlining(lw: Lowerer) -> bool:
    """Whether loops emitted now may be outlined to run on threads (not in serial code, code
    that seldom runs, or a chunk)."""
    return lw.threads != 1 and not lw.ask_for_threads and not lw.in_rare_code and lw.chunk is None


def asking(lw: Lowerer) -> bool:
    """Whether loops emitted now run serially and ask for the code that runs them on threads
    when they are large (see the module's docstring)."""
    return lw.ask_for_threads and not lw.in_rare_code and lw.outlinable is None


def ask(lw: Lowerer, large: ir.Value, emit: Callable[[], T]) -> T:
    """``emit()`` the loop in place (its result is returned), then, when ``large`` (an i1) and the process lets loops
    use more than one thread, set ``adc_threads_wanted`` -- unless the loop's body did what a
    chunk function cannot (:class:`NotParallel`): its code for threads would be this one."""
    outer, lw.outlinable = lw.outlinable, True
    try:
        result = emit()
        outlinable = lw.outlinable
    finally:
        lw.outlinable = outer
    if not outlinable:
        return result
    b = lw.builder
    several = b.icmp_signed(">", _thread_count(lw), ir.Constant(I64, 1))
    with b.if_then(b.and_(large, several), likely=False):
        b.store(ir.Constant(I64, 1), _global(lw.module, "adc_threads_wanted", I64))
    return result


def large(lw: Lowerer, elements: ir.Value, cost: int) -> ir.Value:
    """Whether a loop over ``elements`` (i64) that each cost ``cost`` runs on threads (an i1)."""
    cost = min(max(cost, 1), MAX_COST)
    work = index_product(lw, [elements, ir.Constant(I64, cost)])
    return lw.builder.icmp_signed(">=", work, ir.Constant(I64, THRESHOLD))


def split(
    lw: Lowerer,
    n: ir.Value,
    threaded: ir.Value,
    body: Callable[[ir.Value, ir.Value], None],
    threaded_n: ir.Value | None = None,
) -> bool:
    """``body(lo, hi)`` outlined and called for ``range(0, n)``: by the region runner when
    ``threaded`` (an i1), over ``range(0, threaded_n)`` if given, else directly. False, and
    nothing emitted, when the body cannot be outlined."""
    zero = ir.Constant(I64, 0)
    try:
        chunk, captured = _outline(lw, body)
    except NotParallel:
        return False
    b = lw.builder
    if captured:
        context_type = ir.LiteralStructType([v.type for v in captured])
        slot = lw.alloca(context_type)
        for k, v in enumerate(captured):
            b.store(v, b.gep(slot, [ir.Constant(I32, 0), ir.Constant(I32, k)], inbounds=True))
        context = b.bitcast(slot, I8P)
    else:
        context = ir.Constant(I8P, None)
    worker_function(lw)
    with b.if_else(threaded, likely=False) as (on_threads, serial):
        with on_threads:
            b.call(_runner(lw), [chunk, context, n if threaded_n is None else threaded_n, _thread_count(lw)])
        with serial:
            b.call(chunk, [context, zero, n])
    return True


def _work(lw: Lowerer, shape: Sequence[ir.Value]) -> ir.Value:
    """Whether a loop over ``shape`` computing elements of the op being lowered is large
    (``analysis.Plan.element_cost`` says what one costs)."""
    op = lw.current_op
    return large(lw, index_product(lw, shape), lw.plan.element_cost(op) if op is not None else 1)


def _thread_count(lw: Lowerer) -> ir.Value:
    """The count the function was compiled with, else the process's (``threads.num_threads``)."""
    if lw.threads is not None:
        return ir.Constant(I64, lw.threads)
    return lw.builder.load(_global(lw.module, "adc_threads", I64))


def _global(module: ir.Module, name: str, ty: ir.Type) -> ir.GlobalVariable:
    found = module.globals.get(name)
    return found if found is not None else ir.GlobalVariable(module, ty, name)


# --------------------------------------------------------------------------- outlining
def _outline(lw: Lowerer, body: Callable[[ir.Value, ir.Value], None]) -> tuple[ir.Function, list[ir.Value]]:
    """``body`` emitted into a new chunk function, and the values of ``adc_core`` it reads
    (in the order of the context struct). Raises NotParallel, leaving no chunk, when the
    body cannot go there.

    The body is emitted into a draft function of ``(lo, hi)``, then moved into
    ``adc_chunk.N.body(lo, hi, inputs...)``, the values it reads turned into parameters --
    pointers ``noalias``, as ``adc_core``'s are: the loop reads arrays and writes a new one,
    which nothing else points into -- and ``adc_chunk.N(context, lo, hi)`` loads them from
    the context and calls it, inlined. (Loaded from the context where the loop uses them,
    the pointers might alias: LLVM's vectoriser checked at run time, in code a third larger.)
    """
    module = lw.module
    name = module.get_unique_name("adc_chunk")
    draft = ir.Function(module, ir.FunctionType(VOID, [I64, I64]), f"{name}.draft")
    lo, hi = draft.args
    lo.name, hi.name = "chunk.lo", "chunk.hi"
    outside = lw.builder.block
    emitted = len(outside.instructions)
    try:
        with lw.out_of_line(draft), lw.in_chunk(draft):
            body(lo, hi)
            lw.builder.ret_void()
    finally:
        del module.globals[draft.name]
    # a body holding on to the builder it was made with would have emitted there
    assert len(outside.instructions) == emitted, "a loop body emitted code outside its chunk"
    instructions = [i for block in draft.blocks for i in block.instructions]
    captured = list({id(v): v for i in instructions for v in _operands(i) if _foreign(v, draft)}.values())

    inner = ir.Function(
        module, ir.FunctionType(VOID, [I64, I64, *(v.type for v in captured)]), f"{name}.body"
    )
    inner.linkage = "internal"
    inner.attributes.add("alwaysinline")
    inner.attributes.add("nounwind")
    inner.args[0].name, inner.args[1].name = lo.name, hi.name
    for k, arg in enumerate(inner.args[2:]):
        arg.name = f"chunk.in{k}"
        if isinstance(arg.type, ir.PointerType):
            arg.add_attribute("noalias")
    inner.blocks = draft.blocks
    for block in inner.blocks:
        block.parent = inner
    new = {id(v): arg for v, arg in zip([lo, hi, *captured], inner.args)}
    for instr in instructions:
        _substitute(instr, new)

    chunk = ir.Function(module, CHUNK, name)
    chunk.linkage = "internal"
    chunk.attributes.add("nounwind")
    chunk.attributes.add("noinline")  # one copy of the loop, called directly or on threads
    context, start, stop = chunk.args
    b = ir.IRBuilder(chunk.append_basic_block("entry"))
    inputs = []
    if captured:
        struct = b.bitcast(context, ir.LiteralStructType([v.type for v in captured]).as_pointer())
        for k in range(len(captured)):
            inputs.append(b.load(b.gep(struct, [ir.Constant(I32, 0), ir.Constant(I32, k)], inbounds=True)))
    b.call(inner, [start, stop, *inputs])
    b.ret_void()
    return chunk, captured


def _foreign(v: ir.Value, fn: ir.Function) -> bool:
    if isinstance(v, ir.Instruction):
        return v.function is not fn
    if isinstance(v, ir.Argument):
        return v.parent is not fn
    if isinstance(v, ir.Block):
        assert v.parent is fn, "a chunk function branches only within itself"
    return False


def _operands(instr: ir.Instruction) -> list[ir.Value]:
    if isinstance(instr, ir.PhiInstr):
        return [v for v, _ in instr.incomings]
    return list(instr.operands)


def _substitute(instr: ir.Instruction, new: dict[int, ir.Value]) -> None:
    """Replace the operands of ``instr`` found in ``new`` (by identity). llvmlite prints some
    instructions from fields of their own besides ``operands``: those are replaced too."""

    def sub(v: ir.Value) -> ir.Value:
        return new.get(id(v), v)

    if isinstance(instr, ir.PhiInstr):
        instr.incomings = [(sub(v), block) for v, block in instr.incomings]
    elif any(id(v) in new for v in instr.operands):
        instr.operands = type(instr.operands)(sub(v) for v in instr.operands)
        if isinstance(instr, ir.GEPInstr):
            instr.pointer, instr.indices = sub(instr.pointer), [sub(i) for i in instr.indices]
        elif isinstance(instr, ir.ExtractValue):
            instr.aggregate = sub(instr.aggregate)
        elif isinstance(instr, ir.InsertValue):
            instr.aggregate, instr.value = sub(instr.aggregate), sub(instr.value)
    else:
        return
    instr._clear_string_cache()


# --------------------------------------------------------------------------- the pool
# The pool's state is ``threads``' struct ``adc_pool``: the fields below are its offsets.
# A region publishes its job (chunk function, context, n, number of chunks) under the mutex,
# with a new generation, and wakes the pool; then every thread -- the caller too -- claims
# chunks from ``claim`` (the generation's low 32 bits, then the next chunk's number) until
# none is left, and the caller waits until ``done`` counts them all. A thread that wakes
# late finds no chunk left, or another generation, and claims nothing: so the caller never
# waits for a thread that did not start working (on a loaded machine it does the work
# itself), and no thread touches a job after its region has ended.


def _runner(lw: Lowerer) -> ir.Function:
    """``adc_parallel_run(chunk, context, n, threads)``: ``chunk`` over ``range(0, n)`` in
    chunks that ``threads`` threads (at most :data:`MAX_THREADS`) share, the caller one of
    them. All on the caller's thread when another region runs or the pool has no thread
    function (see ``threads.adopt``)."""
    fn, b = lw.rt.helper("adc_parallel_run", ir.FunctionType(VOID, [CHUNK.as_pointer(), I8P, I64, I64]))
    if b is None:
        return fn
    _unoptimised(fn)
    module = lw.module
    chunk, context, n, requested = fn.args
    pool = _Pool(module, b)
    one, zero = ir.Constant(I64, 1), ir.Constant(I64, 0)
    count = _min(b, requested, ir.Constant(I64, MAX_THREADS))
    chunks = _min(b, n, b.mul(count, ir.Constant(I64, CHUNKS_PER_THREAD)))
    worker = b.load(pool.field(threads.WORKER, _THREAD.as_pointer()))
    ok = b.and_(b.icmp_signed(">", count, one), b.icmp_signed(">", chunks, one))
    ok = b.and_(ok, b.icmp_unsigned("!=", worker, ir.Constant(worker.type, None)))
    serial, claim = fn.append_basic_block("serial"), fn.append_basic_block("claim")
    b.cbranch(ok, claim, serial)

    b.position_at_end(serial)
    b.call(chunk, [context, zero, n])
    b.ret_void()

    b.position_at_end(claim)
    busy = pool.field(threads.BUSY, I32)
    claimed = b.cmpxchg(busy, ir.Constant(I32, 0), ir.Constant(I32, 1), "acquire", "monotonic")
    start = fn.append_basic_block("start")
    b.cbranch(b.extract_value(claimed, 1), start, serial)

    b.position_at_end(start)
    pool.call("pthread_mutex_lock", pool.mutex)
    # start the threads still missing (they wait for the mutex, then see this job)
    started = pool.field(threads.STARTED, I64)
    ident = b.alloca(I64)
    create, created, more = (fn.append_basic_block(name) for name in ("create", "created", "publish"))
    b.branch(create)
    b.position_at_end(create)
    want = b.icmp_signed("<", b.load(started), b.sub(count, one))
    with b.if_then(want):
        status = pool.call("pthread_create", ident, ir.Constant(I8P, None), worker, ir.Constant(I8P, None))
        b.cbranch(b.icmp_signed("==", status, ir.Constant(I32, 0)), created, more)
    b.branch(more)
    b.position_at_end(created)
    pool.call("pthread_detach", b.load(ident))
    b.store(b.add(b.load(started), one), started)
    b.branch(create)

    b.position_at_end(more)
    generation = pool.field(threads.GENERATION, I64)
    g = b.add(b.load(generation), one)
    b.store(g, generation)
    tag = b.and_(g, ir.Constant(I64, 0xFFFFFFFF))
    for offset, value in (
        (threads.JOB_FN, chunk),
        (threads.JOB_CONTEXT, context),
        (threads.JOB_N, n),
        (threads.JOB_CHUNKS, chunks),
        (threads.DONE, zero),
    ):
        b.store(value, pool.field(offset, value.type))
    b.store_atomic(b.shl(tag, ir.Constant(I64, 32)), pool.field(threads.CLAIM, I64), "release", 8)
    regions = pool.field(threads.REGIONS, I64)
    b.store(b.add(b.load(regions), one), regions)
    pool.call("pthread_cond_broadcast", pool.work_ready)
    pool.call("pthread_mutex_unlock", pool.mutex)
    b.call(_share(lw), [tag, chunk, context, n, chunks])

    # wait for the chunks other threads took: a short spin, then the condition variable
    done = pool.field(threads.DONE, I64)
    spin, test, sleep, wait, finished = (
        fn.append_basic_block(name) for name in ("spin", "spin.test", "sleep", "wait", "finished")
    )
    entry = b.block
    b.branch(spin)
    b.position_at_end(spin)
    k = b.phi(I64)
    k.add_incoming(zero, entry)
    all_done = b.icmp_signed(">=", b.load_atomic(done, "acquire", 8), chunks)
    b.cbranch(all_done, finished, test)
    b.position_at_end(test)
    following = b.add(k, one)
    k.add_incoming(following, test)
    b.cbranch(b.icmp_signed("<", following, ir.Constant(I64, SPIN)), spin, sleep)
    b.position_at_end(sleep)
    pool.call("pthread_mutex_lock", pool.mutex)
    b.branch(wait)
    b.position_at_end(wait)
    waiting = fn.append_basic_block("waiting")
    awake = fn.append_basic_block("awake")
    b.cbranch(b.icmp_signed("<", b.load_atomic(done, "acquire", 8), chunks), waiting, awake)
    b.position_at_end(waiting)
    pool.call("pthread_cond_wait", pool.work_done, pool.mutex)
    b.branch(wait)
    b.position_at_end(awake)
    pool.call("pthread_mutex_unlock", pool.mutex)
    b.branch(finished)
    b.position_at_end(finished)
    b.store_atomic(ir.Constant(I32, 0), busy, "release", 4)
    b.ret_void()
    return fn


def _share(lw: Lowerer) -> ir.Function:
    """``adc_pool_share(tag, chunk, context, n, chunks)``: claim chunks of the region of
    generation ``tag`` and run them until none is left; the thread finishing the last
    wakes the caller."""
    fn, b = lw.rt.helper("adc_pool_share", ir.FunctionType(VOID, [I64, CHUNK.as_pointer(), I8P, I64, I64]))
    if b is None:
        return fn
    _unoptimised(fn)
    tag, chunk, context, n, chunks = fn.args
    pool = _Pool(lw.module, b)
    claim, done = pool.field(threads.CLAIM, I64), pool.field(threads.DONE, I64)
    low = ir.Constant(I64, 0xFFFFFFFF)
    one = ir.Constant(I64, 1)
    loop, check, take, work, finished = (
        fn.append_basic_block(name) for name in ("loop", "check", "take", "work", "finished")
    )
    b.branch(loop)
    b.position_at_end(loop)
    c = b.load_atomic(claim, "acquire", 8)
    b.cbranch(b.icmp_unsigned("==", b.lshr(c, ir.Constant(I64, 32)), tag), check, finished)
    b.position_at_end(check)
    k = b.and_(c, low)
    b.cbranch(b.icmp_signed("<", k, chunks), take, finished)
    b.position_at_end(take)
    swapped = b.cmpxchg(claim, c, b.add(c, one), "acq_rel", "acquire")
    b.cbranch(b.extract_value(swapped, 1), work, loop)
    b.position_at_end(work)
    lo = b.udiv(b.mul(n, k), chunks)
    hi = b.udiv(b.mul(n, b.add(k, one)), chunks)
    b.call(chunk, [context, lo, hi])
    before = b.atomic_rmw("add", done, one, "acq_rel")
    with b.if_then(b.icmp_signed("==", b.add(before, one), chunks)):
        pool.call("pthread_mutex_lock", pool.mutex)
        pool.call("pthread_cond_broadcast", pool.work_done)
        pool.call("pthread_mutex_unlock", pool.mutex)
    b.branch(loop)
    b.position_at_end(finished)
    b.ret_void()
    return fn


#: ``void* (void*)``: what ``pthread_create`` starts
_THREAD = ir.FunctionType(I8P, [I8P])


def worker_function(lw: Lowerer) -> ir.Function:
    """``adc_pool_worker``, what the pool's threads run (exported: ``threads.adopt`` takes its
    address): wait for a new generation, share its chunks, wait again -- forever."""
    module = lw.module
    found = module.globals.get("adc_pool_worker")
    if found is not None:
        return found
    fn = ir.Function(module, _THREAD, "adc_pool_worker")
    fn.attributes.add("nounwind")
    _unoptimised(fn)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    pool = _Pool(module, b)
    generation = pool.field(threads.GENERATION, I64)
    seen = b.alloca(I64)
    b.store(ir.Constant(I64, 0), seen)
    pool.call("pthread_mutex_lock", pool.mutex)
    wait, sleep, work = (fn.append_basic_block(name) for name in ("wait", "sleep", "work"))
    b.branch(wait)
    b.position_at_end(wait)
    b.cbranch(b.icmp_unsigned("==", b.load(generation), b.load(seen)), sleep, work)
    b.position_at_end(sleep)
    pool.call("pthread_cond_wait", pool.work_ready, pool.mutex)
    b.branch(wait)
    b.position_at_end(work)
    g = b.load(generation)
    b.store(g, seen)
    job = [
        b.load(pool.field(offset, ty))
        for offset, ty in (
            (threads.JOB_FN, CHUNK.as_pointer()),
            (threads.JOB_CONTEXT, I8P),
            (threads.JOB_N, I64),
            (threads.JOB_CHUNKS, I64),
        )
    ]
    pool.call("pthread_mutex_unlock", pool.mutex)
    b.call(_share(lw), [b.and_(g, ir.Constant(I64, 0xFFFFFFFF)), *job])
    pool.call("pthread_mutex_lock", pool.mutex)
    b.branch(wait)
    return fn


class _Pool:
    """The fields of ``adc_pool`` and the pthread functions, for code built with ``b``."""

    _SIGNATURES = {
        "pthread_create": (I32, [I64.as_pointer(), I8P, _THREAD.as_pointer(), I8P]),
        "pthread_detach": (I32, [I64]),
        "pthread_mutex_lock": (I32, [I8P]),
        "pthread_mutex_unlock": (I32, [I8P]),
        "pthread_cond_wait": (I32, [I8P, I8P]),
        "pthread_cond_broadcast": (I32, [I8P]),
    }

    def __init__(self, module: ir.Module, b: ir.IRBuilder) -> None:
        self.module, self.b = module, b
        self.base = b.bitcast(_global(module, "adc_pool", ir.ArrayType(I64, threads.POOL_BYTES // 8)), I8P)
        self.mutex = self._bytes(threads.MUTEX)
        self.work_ready, self.work_done = self._bytes(threads.WORK_READY), self._bytes(threads.WORK_DONE)

    def _bytes(self, offset: int) -> ir.Value:
        return self.b.gep(self.base, [ir.Constant(I64, offset)], inbounds=True)

    def field(self, offset: int, ty: ir.Type) -> ir.Value:
        return self.b.bitcast(self._bytes(offset), ty.as_pointer())

    def call(self, name: str, *args: ir.Value) -> ir.Value:
        fn = self.module.globals.get(name)
        if fn is None:
            ret, params = self._SIGNATURES[name]
            fn = ir.Function(self.module, ir.FunctionType(ret, params), name)
            fn.attributes.add("nounwind")
        return self.b.call(fn, list(args))


def _unoptimised(fn: ir.Function) -> None:
    """The pool's code runs once per region, not per element: LLVM need not optimise it
    (optimised, it was a third of the work of compiling Rosenbrock's gradient)."""
    fn.attributes.add("noinline")
    fn.attributes.add("optnone")


def _min(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    return b.select(b.icmp_signed("<", x, y), x, y)
