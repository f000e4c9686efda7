"""LLVM module -> object code, through llvmlite (the only module that imports its binding).

The target is the host CPU with all its features, in the large code model (so that
:mod:`.loader` can load the object files); the optimisation pipeline is LLVM's
``default<O3>`` built by the new pass builder. Object files that :mod:`.loader` does not
handle load through LLVM's own JIT linker (:func:`load_object`).
"""

from __future__ import annotations

import functools

import llvmlite.binding as llvm

from . import native


@functools.cache
def target_machine() -> llvm.TargetMachine:
    """The machine code generates for (each engine takes ownership of one: see ``LoadedByLLVM``)."""
    return _new_target_machine()


def _new_target_machine() -> llvm.TargetMachine:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    return target.create_target_machine(
        cpu=llvm.get_host_cpu_name(),
        features=llvm.get_host_cpu_features().flatten(),
        opt=3,
        codemodel="large",
        jit=True,
    )


def optimize(text: str, quick: bool = False) -> llvm.ModuleRef:
    """Parse, verify and optimise LLVM IR text at -O3 for the host; ``quick``: without
    vectorising or unrolling loops (a quarter of the work and more, see ``compiled``)."""
    tm = target_machine()
    module = llvm.parse_assembly(text)
    module.triple = tm.triple
    module.data_layout = str(tm.target_data)
    module.verify()
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pto.loop_vectorization = pto.slp_vectorization = pto.loop_unrolling = not quick
    builder = llvm.create_pass_builder(tm, pto)
    builder.getModulePassManager().run(module, builder)
    return module


def compile_module(text: str, quick: bool = False) -> tuple[str, bytes]:
    """Optimise (``quick``: see :func:`optimize`) and compile: the optimised LLVM IR and the
    object file."""
    module = optimize(text, quick)
    return str(module), target_machine().emit_object(module)


@functools.cache
def _load_native_libraries() -> None:
    """Make libc and libm visible to LLVM's JIT linker (once)."""
    import ctypes.util  # imports subprocess, and find_library runs ``ldconfig``: only here

    for name in ("c", "m"):
        path = ctypes.util.find_library(name)
        if path:
            llvm.load_library_permanently(path)


class LoadedByLLVM:
    """An object file loaded by LLVM's JIT linker: keep it alive while its code may run."""

    def __init__(self, obj: bytes) -> None:
        _load_native_libraries()
        for name, address in native.symbols().items():  # the library's may be new since
            llvm.add_symbol(name, address)
        self.engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), _new_target_machine())
        self.engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
        self.engine.finalize_object()

    def address(self, name: str) -> int:
        return self.engine.get_function_address(name)


def assembly(llvm_ir: str) -> str:
    """The machine code of optimised LLVM IR, as assembly text."""
    return target_machine().emit_assembly(llvm.parse_assembly(llvm_ir))
