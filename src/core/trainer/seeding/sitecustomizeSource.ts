// The Python source of Ratchet's seed offset, written to .ratchet/seeding/sitecustomize.py and put
// first on PYTHONPATH for every run (see seedEnv.ts). Kept as a string so that the CLI and the
// extension bundles carry it without a resource path.
export const SITECUSTOMIZE_PY = `# Ratchet's seed offset (written by Ratchet; see src/core/trainer/seeding/ in Ratchet's source).
# A training script that fixes its seed (torch.manual_seed(42)) gives the same result on every
# re-run, and a noise estimate from re-runs then sees no noise. Ratchet puts this folder first on
# PYTHONPATH with RATCHET_SEED_OFFSET set: the seeding calls below add the offset to the seed the
# script asks for, so the first run of the session (offset 0) is exactly what the script does on
# its own and each re-run gets another seed. A seed equal to RATCHET_SEED is left alone: that
# script already varies with Ratchet's seed. Turn it off with "seedOffset": false in ratchet.json.
# Any other sitecustomize (the system's, a virtual environment's) is still imported after this one.
import os
import sys


def _ratchet_chain():
    here = os.path.dirname(os.path.abspath(__file__))
    mine = sys.modules.get(__name__)
    saved = list(sys.path)
    try:
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.getcwd()) != here]
        del sys.modules[__name__]
        try:
            import sitecustomize  # noqa: F401  (the next one on the path)
        except ImportError as e:
            if getattr(e, "name", None) != "sitecustomize":
                raise
    finally:
        sys.path[:] = saved
        if mine is not None:
            sys.modules["_ratchet_sitecustomize"] = mine
            sys.modules[__name__] = mine


def _ratchet_install(offset):
    import threading

    local = threading.local()
    applied = []

    def note(fn, seed, used):
        if len(applied) < 20:
            applied.append({"fn": fn, "seed": seed, "used": used})
            run_dir = os.environ.get("RATCHET_RUN_DIR")
            if run_dir:
                try:
                    import json

                    with open(os.path.join(run_dir, "seed-offset.json"), "w") as f:
                        json.dump({"offset": offset, "calls": applied}, f)
                except OSError:
                    pass

    try:
        honoured = int(os.environ.get("RATCHET_SEED", ""))
    except ValueError:
        honoured = None

    def shift(seed, modulo=None):
        if isinstance(seed, bool) or seed is None:
            return seed
        try:
            import numbers

            if isinstance(seed, numbers.Integral):
                if int(seed) == honoured:
                    return seed  # the script already seeds from RATCHET_SEED: nothing to offset
                s = int(seed) + offset
                return s % modulo if modulo else s
        except Exception:
            pass
        if isinstance(seed, str):
            return "%s#ratchet%d" % (seed, offset)
        if isinstance(seed, bytes):
            return seed + (b"#ratchet%d" % offset)
        return seed

    def wrap(owner, attr, fn_name, modulo=None):
        orig = getattr(owner, attr, None)
        if orig is None or getattr(orig, "_ratchet_orig", None) is not None:
            return

        def patched(*args, **kwargs):
            if getattr(local, "inside", False):
                return orig(*args, **kwargs)
            args = list(args)
            if args or "seed" in kwargs:
                given = args[0] if args else kwargs["seed"]
                used = shift(given, modulo)
                if used is not given:
                    note(fn_name, given if isinstance(given, (int, str)) else repr(given), used if isinstance(used, (int, str)) else repr(used))
                if args:
                    args[0] = used
                else:
                    kwargs["seed"] = used
            local.inside = True
            try:
                return orig(*args, **kwargs)
            finally:
                local.inside = False

        patched._ratchet_orig = orig
        patched.__name__ = getattr(orig, "__name__", attr)
        patched.__doc__ = getattr(orig, "__doc__", None)
        try:
            setattr(owner, attr, patched)
        except (AttributeError, TypeError):
            pass

    def patch(name, module):
        if name == "random":
            wrap(module, "seed", "random.seed")
        elif name == "numpy.random":
            wrap(module, "seed", "numpy.random.seed", 2**32)
            wrap(module, "default_rng", "numpy.random.default_rng")
        elif name == "torch":
            wrap(module, "manual_seed", "torch.manual_seed")
            rnd = getattr(module, "random", None)
            if rnd is not None:
                wrap(rnd, "manual_seed", "torch.random.manual_seed")
            cuda = getattr(module, "cuda", None)
            if cuda is not None:
                wrap(cuda, "manual_seed", "torch.cuda.manual_seed")
                wrap(cuda, "manual_seed_all", "torch.cuda.manual_seed_all")
        elif name == "torch.cuda":
            wrap(module, "manual_seed", "torch.cuda.manual_seed")
            wrap(module, "manual_seed_all", "torch.cuda.manual_seed_all")

    targets = ("random", "numpy.random", "torch", "torch.cuda")
    for name in targets:
        if name in sys.modules:
            patch(name, sys.modules[name])

    class Finder:
        """Lets the usual finders find the module, then patches it right after it has run."""

        def find_spec(self, fullname, path, target=None):
            if fullname not in targets:
                return None
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is None:
                    continue
                loader = spec.loader
                exec_module = getattr(loader, "exec_module", None)
                if exec_module is not None:
                    def run(module, exec_module=exec_module):
                        exec_module(module)
                        patch(fullname, module)

                    try:
                        loader.exec_module = run
                    except (AttributeError, TypeError):
                        pass
                return spec
            return None

    sys.meta_path.insert(0, Finder())


def _ratchet_main():
    raw = os.environ.get("RATCHET_SEED_OFFSET", "")
    try:
        offset = int(raw)
    except ValueError:
        offset = 0
    if offset != 0:
        _ratchet_install(offset)


try:
    _ratchet_main()
finally:
    _ratchet_chain()
`;
