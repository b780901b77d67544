"""The real-world corpus: C libraries nobody here wrote, built unchanged.

Each library comes from a PyPI source distribution that vendors it, pinned by
version and SHA-256, downloaded with pip once and kept in the corpus cache
(`$WASMCFFI_CORPUS_DIR`, else `~/.cache/wasmcffi-corpus`). Nothing of theirs is
in this repository: the declarations (`cdef`) and the few lines of C in
`source` are ours; the library's files are built as its own build does, the
same way for real cffi and for both wasmcffi targets.
"""

import glob
import hashlib
import os
import subprocess
import sys
import tarfile
import time

#: (PyPI name, version, SHA-256 of the sdist).
SQLEAN = ("sqlean.py", "3.50.4.5", "9764b565e7ab430ab6e9e43cb2816199c2b39926dffc93c212a52f0019278459")
LUPA = ("lupa", "2.8", "d8022641b9ec8ecf2c5ecbe9f47e5a70e0b87c4b5ae921b92cb02a638e0acd08")
LZ4 = ("lz4", "4.4.5", "5f0b9e53c1e82e88c10d7c180069363980136b9d7a8306c4dca4f760d60c39f0")
RUAMEL_YAML_CLIB = ("ruamel.yaml.clib", "0.2.15", "46e4cc8c43ef6a94885f72512094e482114a8a706d3c555a34ed4b0d20200600")
MISAKA = ("misaka", "2.1.1", "62f35254550095d899fc2ab8b33e156fc5e674176f074959cbca43cf7912ecd7")
XXHASH = ("xxhash", "4.1.0", "c9b288e4c1f5dae54417bc8a05e6f6daf505783d916b4783f4dd2f2e7d5db486")


def cache_dir():
    """Where downloaded and unpacked source distributions are kept."""
    return os.environ.get("WASMCFFI_CORPUS_DIR") or os.path.join(os.path.expanduser("~"), ".cache",
                                                                  "wasmcffi-corpus")


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sdist_folder(sdist):
    """The unpacked source distribution `sdist` (downloaded and checked on first use)."""
    name, version, sha256 = sdist
    root = cache_dir()
    stem = f"{name.replace('.', '_').replace('-', '_')}-{version}"
    folder = os.path.join(root, "unpacked", stem)
    if os.path.exists(os.path.join(folder, ".complete")):
        return _single_child(folder)
    downloads = os.path.join(root, "downloads")
    os.makedirs(downloads, exist_ok=True)
    archive = _find_archive(downloads, name, version)
    if archive is None:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                        "-d", downloads, f"{name}=={version}"], check=True)
        archive = _find_archive(downloads, name, version)
    if archive is None or _sha256(archive) != sha256:
        raise RuntimeError(f"the source distribution of {name} {version} is missing or not the pinned one")
    partial = f"{folder}.part{os.getpid()}"
    with tarfile.open(archive) as tar:
        tar.extractall(partial, filter="data")
    open(os.path.join(partial, ".complete"), "w").close()
    try:
        os.rename(partial, folder)
    except OSError:  # another process unpacked it first
        pass
    return _single_child(folder)


def _find_archive(downloads, name, version):
    """The sdist of `name` `version` in `downloads` (PyPI spells its file name variously)."""
    wanted = {name.lower(), name.lower().replace(".", "_"), name.lower().replace(".", "_").replace("-", "_")}
    for path in glob.glob(os.path.join(downloads, f"*-{version}.tar.gz")):
        if os.path.basename(path)[: -len(f"-{version}.tar.gz")].lower() in wanted:
            return path
    return None


def _single_child(folder):
    """The sdist's top folder (`name-version/`) inside `folder`."""
    children = [c for c in os.listdir(folder) if not c.startswith(".")]
    return os.path.join(folder, children[0])


class Library:
    """One real library: where its C is in its sdist, how its build compiles it,
    and our declarations of the part the tests use.

    `sources` are glob patterns relative to `folder` (inside the sdist), less the
    names in `exclude`; `include_dirs` are relative to `folder` too."""

    def __init__(self, name, sdist, folder, sources, cdef, source, exclude=(), include_dirs=(".",),
                 define_macros=()):
        self.name = name
        self.sdist = sdist
        self.folder = folder
        self.source_patterns = sources
        self.exclude = set(exclude)
        self.include_dirs = include_dirs
        self.define_macros = list(define_macros)
        self.cdef = cdef
        self.source = source

    def root(self):
        """The library's folder in the unpacked sdist."""
        return os.path.join(sdist_folder(self.sdist), self.folder)

    def sources(self):
        """The library's C files, as its build lists them."""
        root = self.root()
        found = sorted({p for pattern in self.source_patterns for p in glob.glob(os.path.join(root, pattern))})
        return [p for p in found if os.path.basename(p) not in self.exclude]

    def lines_of_c(self):
        """Lines in the library's C files and the headers beside them."""
        files = set(self.sources())
        for folder in {os.path.dirname(p) for p in files}:
            files.update(glob.glob(os.path.join(folder, "*.h")))
        total = 0
        for path in files:
            with open(path, "rb") as f:
                total += f.read().count(b"\n")
        return total

    def build(self, ffi_class, module_name, tmpdir, **set_source_kwargs):
        """Builds the library into module `module_name` with `ffi_class` (cffi's
        or wasmcffi's FFI) in `tmpdir`; returns (module path, seconds taken)."""
        root = self.root()
        ffi = ffi_class()
        ffi.cdef(self.cdef)
        ffi.set_source(module_name, self.source, sources=self.sources(),
                       include_dirs=[os.path.join(root, d) for d in self.include_dirs],
                       define_macros=self.define_macros, **set_source_kwargs)
        start = time.perf_counter()
        path = ffi.compile(tmpdir=str(tmpdir))
        return path, time.perf_counter() - start
