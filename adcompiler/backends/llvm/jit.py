"""LLVM module -> machine code in this process, with an on-disk cache of object code.

The target is the host CPU with all its features; the optimisation pipeline is LLVM's
``default<O3>`` built by the new pass builder. Object code is cached under
``$ADCOMPILER_CACHE_DIR`` (default ``~/.cache/adcompiler/llvm``), keyed by the caller's key
(the IR text, signature and options), the LLVM and llvmlite versions, the CPU, and the
source of this backend -- so a second process loads the object file and skips LLVM.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import llvmlite
import llvmlite.binding as llvm

from . import blas
from .runtime import load_native_libraries


@functools.cache
def target_machine() -> llvm.TargetMachine:
    """The machine code generates for (each engine takes ownership of one: see ``_engine``)."""
    return _new_target_machine()


def _new_target_machine() -> llvm.TargetMachine:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    load_native_libraries()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    return target.create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=3, jit=True
    )


def optimize(text: str) -> llvm.ModuleRef:
    """Parse, verify and optimise LLVM IR text at -O3 for the host."""
    tm = target_machine()
    module = llvm.parse_assembly(text)
    module.triple = tm.triple
    module.data_layout = str(tm.target_data)
    module.verify()
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pto.loop_vectorization = pto.slp_vectorization = pto.loop_unrolling = True
    builder = llvm.create_pass_builder(tm, pto)
    builder.getModulePassManager().run(module, builder)
    return module


@dataclass
class Machine:
    """Loaded machine code: keep this object alive as long as its functions are called."""

    engine: llvm.ExecutionEngine
    #: the optimised LLVM IR
    llvm_ir: str

    def address(self, name: str) -> int:
        return self.engine.get_function_address(name)

    @property
    def asm(self) -> str:
        return target_machine().emit_assembly(llvm.parse_assembly(self.llvm_ir))


def _engine() -> llvm.ExecutionEngine:
    return llvm.create_mcjit_compiler(llvm.parse_assembly(""), _new_target_machine())


def compile_module(text: str) -> tuple[Machine, bytes]:
    """Optimise and compile; returns the loaded code and its object file (for the cache)."""
    module = optimize(text)
    obj = target_machine().emit_object(module)
    return load_object(obj, str(module)), obj


def load_object(obj: bytes, llvm_ir: str) -> Machine:
    engine = _engine()
    engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
    engine.finalize_object()
    return Machine(engine, llvm_ir)


# --------------------------------------------------------------------------- the cache
@functools.cache
def _environment() -> str:
    """Everything besides the function that decides the machine code."""
    sources = sorted(Path(__file__).parent.glob("*.py"))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()
    features = llvm.get_host_cpu_features().flatten()
    linked = blas.find()  # object code calling BLAS is built for its integer width, and links to it
    return (
        f"{llvmlite.__version__}|{llvm.llvm_version_info}|{llvm.get_host_cpu_name()}|{features}|{digest}"
        f"|blas={linked.origin if linked else None}"
    )


def cache_dir() -> Path | None:
    """Where object files go; None when caching is off (``ADCOMPILER_CACHE_DIR=""``)."""
    path = os.environ.get("ADCOMPILER_CACHE_DIR", str(Path.home() / ".cache" / "adcompiler" / "llvm"))
    return Path(path) if path else None


def cache_key(key: str) -> str:
    return hashlib.sha256(f"{_environment()}\n{key}".encode()).hexdigest()


def cache_load(key: str) -> tuple[Machine, dict] | None:
    """The cached machine code and metadata for ``key``, or None."""
    root = cache_dir()
    if root is None:
        return None
    name = cache_key(key)
    try:
        obj = (root / f"{name}.o").read_bytes()
        meta = json.loads((root / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None
    return load_object(obj, meta.pop("llvm_ir")), meta


def cache_store(key: str, machine: Machine, obj: bytes, meta: dict) -> None:
    """Write atomically (a concurrent reader sees all or nothing); failures only cost speed."""
    root = cache_dir()
    if root is None:
        return
    name = cache_key(key)
    try:
        root.mkdir(parents=True, exist_ok=True)
        for suffix, data in (
            (".o", obj),
            (".json", json.dumps({**meta, "llvm_ir": machine.llvm_ir}).encode()),
        ):
            fd, tmp = tempfile.mkstemp(dir=root)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, root / f"{name}{suffix}")
    except OSError:
        pass
