"""An experiment, off by default: helper kernels linked into their callers as LLVM IR,
without optimising and translating them on their own (Numba internals, here only;
``tests/test_numba_linking.py`` fails loudly when a Numba upgrade moves them).

Numba finalises the library of every function it compiles: it optimises the module (the
function and everything it links) and translates it to machine code. A helper that only
other kernels call (``helper=True`` in ``fastnn.backends._numba_kernels.jit``: no Python
or C entry point) never runs that machine code: each kernel that calls it links the
helper's IR into its own module, then optimises and translates the whole again. The
helper's own optimisation and translation are wasted: about a fifth of a network's cold
first calls (measured with ``benchmarks/compile_stages.py``).

:func:`defer` marks a helper (by the qualified name Numba gives its library) before it
compiles; once :func:`install` has patched ``numba.core.codegen``, a marked library's
``finalize`` links the libraries it depends on and stops there. Its callers optimise
its IR with their own, as before; anything that asks the library itself for machine
code gets it finalised in full first (:func:`_complete`). A deferred helper has no
machine code to save, so it is compiled without Numba's on-disk cache: the kernels that
call it are cached whole, as before.

Off by default; ``FASTNN_DEFER_HELPERS=1`` turns it on. Measured on a 64-32-10 sigmoid/mse
network (2-core AMD EPYC, shared, noisy): its cold first calls' compile 12.2 s -> 9.8 s
(``benchmarks/compile_stages.py``, n=3, medians). But the kernels come out as different
machine code: Numba links into a caller the helper's IR as it was left after its own
translation (apparently LLVM's code-generation passes rewrite the module in place), and
the caller optimises that; linked before translation, the callers' loops are optimised
otherwise (other inlining and vectorisation: checked with ``inspect_asm``),
and some steady-state times moved by more than the 3 % allowed (one-row epochs of sgd
1.1-1.3x, of Adam up to 1.6x in one run; others faster; ``benchmarks/steady_ab.py --suite epochs``),
so it stays off until that is settled. Optimising the helper alone before linking (and
saving its translation only) did not restore the old code either, and saved little.
"""

from __future__ import annotations

import os

ENABLED = os.environ.get("FASTNN_DEFER_HELPERS", "0") == "1"

# The qualified names of the helpers whose libraries are linked only (see defer).
_DEFERRED = set()
_INSTALLED = False
# Environment pointers of deferred helpers waiting for a module that defines them, by the
# name of their global variable.
_PENDING_ENVS = {}


def defer(qualname):
    """Mark the helper compiled under ``qualname`` (its library's name) to be linked into
    its callers only; returns False (nothing marked) when deferral is off or Numba's
    internals are not as expected."""
    if not ENABLED or not install():
        return False
    _DEFERRED.add(qualname)
    return True


def install():
    """Patch ``numba.core.codegen``'s CPU code library (once per process); returns whether
    the patch is in place (False if Numba's internals have moved: then every library is
    finalised as usual)."""
    global _INSTALLED
    if _INSTALLED:
        return True
    from numba.core import codegen

    library = codegen.CPUCodeLibrary
    jit_library = codegen.JITCodeLibrary
    needed = ("_linking_libraries", "_final_module", "_reload_init", "_finalized")
    methods = ("finalize", "_optimize_final_module", "_finalize_final_module",
               "_get_module_for_linking", "_get_compiled_object")
    if not all(hasattr(library, name) for name in methods) or not all(
            hasattr(jit_library, name) for name in ("get_pointer_to_function",
                                                    "_finalize_specific")) or not hasattr(
            codegen.JITCPUCodegen, "set_env") or not _has_attributes(library, needed):
        return False
    finalize = library.finalize
    get_pointer = jit_library.get_pointer_to_function
    compiled_object = library._get_compiled_object

    def deferred_finalize(self):
        if self.name not in _DEFERRED:
            return finalize(self)
        codegen.require_global_compiler_lock()
        self._raise_if_finalized()
        seen = set()
        for linked in self._linking_libraries:
            if linked not in seen:
                self._reload_init.update(linked._reload_init)
                seen.add(linked)
                self._final_module.link_in(linked._get_module_for_linking(), preserve=True)
        self._fastnn_deferred = True
        self._finalized = True
        return None

    def pointer_to_function(self, name):
        if getattr(self, "_fastnn_deferred", False):
            try:
                self._final_module.get_function(name)
            except NameError:
                return 0  # the Python entry Numba asks every library for: none here
            _complete(self)
        return get_pointer(self, name)

    def get_compiled_object(self):
        if getattr(self, "_fastnn_deferred", False):
            _complete(self)
        return compiled_object(self)

    set_env = codegen.JITCPUCodegen.set_env
    finalize_specific = jit_library._finalize_specific

    def set_env_when_defined(self, env_name, env):
        # A deferred helper's environment pointer lives in the modules of the kernels that
        # link it: set it once one of them is translated (see finalize_and_set_envs).
        if self._engine.get_global_value_address(env_name):
            return set_env(self, env_name, env)
        _PENDING_ENVS[env_name] = env
        return None

    def finalize_and_set_envs(self):
        finalize_specific(self)
        engine = self._codegen._engine
        for env_name in [name for name in _PENDING_ENVS
                         if engine.get_global_value_address(name)]:
            set_env(self._codegen, env_name, _PENDING_ENVS.pop(env_name))

    library.finalize = deferred_finalize
    jit_library.get_pointer_to_function = pointer_to_function
    library._get_compiled_object = get_compiled_object
    codegen.JITCPUCodegen.set_env = set_env_when_defined
    jit_library._finalize_specific = finalize_and_set_envs
    _INSTALLED = True
    return True


def _complete(library):
    """Finalise a deferred library in full (optimised and translated), as Numba would have."""
    library._fastnn_deferred = False
    library._optimize_final_module()
    library._final_module.verify()
    library._finalize_final_module()


def _has_attributes(library_class, names):
    """Whether a CPU code library made now has the attributes ``names``."""
    from numba.core.registry import cpu_target

    made = cpu_target.target_context.codegen().create_library("fastnn-probe")
    return all(hasattr(made, name) for name in names)
