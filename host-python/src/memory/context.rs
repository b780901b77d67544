//! [`FfiContext`]: what every `FFI`, `CType` user and `CData` of one FFI share —
//! its declarations, its type resolver and the memory its cdata live in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use wasmcffi::backend::wasm::Sandbox;
use wasmcffi::cdecl::{self, CdefOptions};
use wasmcffi::layout::{Adoption, CType, Target, TypeResolver};
use wasmcffi::model::{ArrayLen, Decl, Declarations, Type, TypeId, TypeTable};
use wasmcffi::Result;

use crate::memory::allocation::SharedMemory;
use crate::memory::scratch::Scratch;

/// Declarations and resolved types of one FFI.
pub struct TypeState {
    pub decls: Declarations,
    pub resolver: TypeResolver,
}

/// The state of one FFI, shared by the `FFI` object and every cdata it made.
pub struct FfiContext {
    pub mem: SharedMemory,
    types: Mutex<TypeState>,
    /// Type strings already parsed and resolved (`"int *"` → its `CType`);
    /// emptied whenever the declarations change.
    parsed: Mutex<HashMap<String, CType>>,
    /// The sandbox whose memory `mem` is (a sandboxed module's ffi), if any.
    sandbox: Option<Arc<Sandbox>>,
    /// Where calls into the sandbox put the temporaries they overwrite at once
    /// (`char *` copies of bytes), when free (see `CallTemps::overwrite_block`).
    pub scratch: Arc<Scratch>,
    /// A compiled module's ffi: as CFFI's, a type string naming a struct or
    /// union its cdef never declared is an error, not a new opaque type.
    known_tags_only: std::sync::atomic::AtomicBool,
}

/// Bytes of a sandboxed ffi's scratch area for call temporaries: larger
/// arguments get blocks of their own (their copy then costs more than the
/// allocation anyway).
const CALL_SCRATCH_SIZE: u64 = 16 << 10;

impl FfiContext {
    /// A context with no declarations whose cdata live in `mem`.
    pub fn new(mem: SharedMemory) -> Arc<Self> {
        Self::with_sandbox(mem, None)
    }

    /// A context with no declarations whose cdata live in `mem`, the memory of
    /// `sandbox` when given.
    pub fn with_sandbox(mem: SharedMemory, sandbox: Option<Arc<Sandbox>>) -> Arc<Self> {
        let target = mem.target();
        Arc::new(FfiContext {
            mem,
            types: Mutex::new(TypeState {
                decls: Declarations::new(),
                resolver: TypeResolver::new(target),
            }),
            parsed: Mutex::new(HashMap::new()),
            sandbox,
            scratch: Arc::new(Scratch::new(CALL_SCRATCH_SIZE)),
            known_tags_only: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// A context whose cdata live in `mem` (the memory of `sandbox` when given),
    /// starting with a copy of `template`'s declarations and measured layouts:
    /// what a new instance of a compiled module gets instead of parsing its cdefs
    /// and layout table again.
    pub fn forked(
        mem: SharedMemory,
        sandbox: Option<Arc<Sandbox>>,
        template: &FfiContext,
    ) -> Arc<Self> {
        let types = {
            let template = template.types();
            TypeState {
                decls: template.decls.clone(),
                resolver: template.resolver.fork(),
            }
        };
        Arc::new(FfiContext {
            mem,
            types: Mutex::new(types),
            parsed: Mutex::new(HashMap::new()),
            sandbox,
            scratch: Arc::new(Scratch::new(CALL_SCRATCH_SIZE)),
            known_tags_only: std::sync::atomic::AtomicBool::new(
                template
                    .known_tags_only
                    .load(std::sync::atomic::Ordering::Relaxed),
            ),
        })
    }

    /// From now on, refuse type strings naming undeclared structs and unions
    /// (see [`FfiContext::known_tags_only`]).
    pub fn refuse_unknown_tags(&self) {
        self.known_tags_only
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.parsed().clear();
    }

    /// The sandbox running this FFI's module, for a sandboxed module's ffi.
    pub fn sandbox(&self) -> Option<&Arc<Sandbox>> {
        self.sandbox.as_ref()
    }

    /// The data model of this FFI.
    pub fn target(&self) -> Target {
        self.mem.target()
    }

    /// Locks the declarations. Every caller holds the GIL, so this never waits
    /// for long; a poisoned lock (a panic elsewhere) is taken over as is.
    pub fn types(&self) -> MutexGuard<'_, TypeState> {
        self.types
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn parsed(&self) -> MutexGuard<'_, HashMap<String, CType>> {
        self.parsed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `ffi.cdef(source, ...)`.
    pub fn cdef(
        &self,
        source: &str,
        opts: &CdefOptions,
        included_from: Option<&str>,
    ) -> Result<()> {
        self.parsed().clear();
        let decls = &mut self.types().decls;
        let Some(module) = included_from else {
            return cdecl::parse_cdef(decls, source, opts);
        };
        let before = decls.lib_items.keys().cloned().collect();
        cdecl::parse_cdef(decls, source, opts)?;
        decls.mark_included(&before, module);
        Ok(())
    }

    /// `ffi.include(other)`: adds another FFI's declarations; with `module`, the
    /// compiled module that provides `other`'s functions, globals and constants
    /// (see [`Declarations::included`]).
    pub fn include(&self, other: &Declarations, module: Option<&str>) -> Result<()> {
        self.parsed().clear();
        let decls = &mut self.types().decls;
        let before = match module {
            Some(_) => decls.lib_items.keys().cloned().collect(),
            None => std::collections::BTreeSet::new(),
        };
        cdecl::include(decls, other)?;
        for (name, from) in &other.included {
            decls
                .included
                .entry(name.clone())
                .or_insert_with(|| from.clone());
        }
        if let Some(module) = module {
            decls.mark_included(&before, module);
        }
        Ok(())
    }

    /// Shares `other`'s descriptors of the types both FFIs name (typedefs,
    /// struct, union and enum tags), after `ffi.include(other)`: the same type
    /// objects in both, as CFFI gives. Names this FFI resolved already, or
    /// declares differently, keep their own.
    pub fn adopt_named_types(&self, other: &FfiContext) {
        if other.target() != self.target() || std::ptr::eq(self, other) {
            return;
        }
        let spellings: Vec<String> = {
            let theirs = &other.types().decls;
            let tags = |prefix: &str, map: &std::collections::BTreeMap<String, TypeId>| {
                map.keys()
                    .map(|n| format!("{prefix} {n}"))
                    .collect::<Vec<_>>()
            };
            let mut names: Vec<String> = theirs.typedefs.keys().cloned().collect();
            names.extend(tags("struct", &theirs.struct_tags));
            names.extend(tags("union", &theirs.union_tags));
            names.extend(tags("enum", &theirs.enum_tags));
            names
        };
        for spelling in spellings {
            let Ok(theirs) = other.parse_ctype(&spelling) else {
                continue;
            };
            let mut state = self.types();
            let TypeState { decls, resolver } = &mut *state;
            let Ok(id) = cdecl::parse_type(decls, &spelling) else {
                continue;
            };
            if resolver.adopt(&decls.types, id, theirs) == Adoption::Conflict {
                // As CFFI: the two FFIs would disagree about the type.
                decls.types.set_unsupported(
                    id,
                    wasmcffi::Error::NotImplemented(format!(
                        "'{spelling}' is opaque in the ffi.include(), but no longer in the ffi \
                         doing the include (workaround: don't use ffi.include() but duplicate \
                         the declarations of everything using {spelling})"
                    )),
                );
            }
        }
        self.parsed().clear();
    }

    /// The resolved type spelled `text`.
    pub fn parse_ctype(&self, text: &str) -> Result<CType> {
        if let Some(ty) = self.parsed().get(text) {
            return Ok(ty.clone());
        }
        let mut state = self.types();
        let tags = |d: &Declarations| (d.struct_tags.clone(), d.union_tags.clone());
        // Only a compiled module's ffi needs to see what the parse declared.
        let before = self
            .known_tags_only
            .load(std::sync::atomic::Ordering::Relaxed)
            .then(|| tags(&state.decls));
        let id = cdecl::parse_type(&mut state.decls, text)?;
        if let Some(before) = before.filter(|b| *b != tags(&state.decls)) {
            let new_tag = state
                .decls
                .struct_tags
                .keys()
                .chain(state.decls.union_tags.keys())
                .find(|t| !before.0.contains_key(*t) && !before.1.contains_key(*t))
                .cloned()
                .unwrap_or_default();
            (state.decls.struct_tags, state.decls.union_tags) = before;
            let caret = " ".repeat(text.find(new_tag.as_str()).unwrap_or(0));
            return Err(wasmcffi::Error::Ffi(format!(
                "undefined struct/union name\n{text}\n{caret}^"
            )));
        }
        let TypeState { decls, resolver } = &mut *state;
        let ty = resolver.resolve(&decls.types, id)?;
        self.parsed().insert(text.to_owned(), ty.clone());
        Ok(ty)
    }

    /// The function-pointer type spelled `text`, which may name the function
    /// type itself (`"int(int)"`) or a pointer to it (`"int(*)(int)"`).
    pub fn parse_function_pointer(&self, text: &str) -> Result<CType> {
        let mut state = self.types();
        let mut id = cdecl::parse_type(&mut state.decls, text)?;
        if !matches!(
            state.decls.types.get(id),
            Type::Function(_) | Type::Pointer(_)
        ) {
            // `T(U)` with typedef names reads as a parenthesized declarator
            // (`int8_t(int8_t)` as `int8_t int8_t`): spell the pointer explicitly.
            if let Some(open) = text.find('(') {
                let explicit = format!("{}(*){}", &text[..open], &text[open..]);
                if let Ok(retry) = cdecl::parse_type(&mut state.decls, &explicit) {
                    id = retry;
                }
            }
        }
        if matches!(state.decls.types.get(id), Type::Function(_)) {
            id = state.decls.types.intern(Type::Pointer(id));
        }
        let TypeState { decls, resolver } = &mut *state;
        resolver.resolve(&decls.types, id)
    }

    /// Applies a compiled module's layout table to the declarations.
    pub fn complete(&self, table: &[u64]) -> Result<()> {
        self.parsed().clear();
        let mut state = self.types();
        let TypeState { decls, resolver } = &mut *state;
        let plan = wasmcffi::build::plan(decls)?;
        wasmcffi::build::complete(decls, resolver, &plan, table)
    }

    /// The names a `lib` of these declarations has (for `dir(lib)`).
    pub fn lib_names(&self) -> Vec<String> {
        self.lib_names_where(|d, _| !matches!(d, Decl::Typedef(_)))
    }

    /// What `from module.lib import *` takes, as in CFFI: [`Self::lib_names`]
    /// without the global variables (an import copies a value once).
    pub fn lib_exports(&self) -> Vec<String> {
        self.lib_names_where(|d, table| match d {
            Decl::Typedef(_) => false,
            Decl::Global(g) => g.reads_as_constant(table),
            _ => true,
        })
    }

    fn lib_names_where(&self, keep: impl Fn(&Decl, &TypeTable) -> bool) -> Vec<String> {
        let types = self.types();
        let table = &types.decls.types;
        let items = types.decls.lib_items.iter();
        items
            .filter(|(_, d)| keep(d, table))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// The resolved type of a model id.
    pub fn resolve(&self, id: TypeId) -> Result<CType> {
        let mut state = self.types();
        let TypeState { decls, resolver } = &mut *state;
        resolver.resolve(&decls.types, id)
    }

    /// Interns a model type derived from existing ones and resolves it.
    fn derived(&self, ty: Type) -> Result<CType> {
        let mut state = self.types();
        let TypeState { decls, resolver } = &mut *state;
        let id = decls.types.intern(ty);
        resolver.resolve(&decls.types, id)
    }

    /// `ty` as this FFI's own descriptor. A type another FFI made is found here
    /// by its name when its name says all (no struct, union or enum in it), as
    /// CFFI shares such types between FFIs; any other is used as it is.
    pub fn localize(&self, ty: &CType) -> Result<CType> {
        if !ty.is_structural() || self.types().resolver.owns(ty) {
            return Ok(ty.clone());
        }
        self.parse_ctype(ty.cname())
    }

    /// `T *` for a resolved `T` (of this FFI, or structural).
    pub fn pointer_to(&self, ty: &CType) -> Result<CType> {
        let ty = self.localize(ty)?;
        self.derived(Type::Pointer(ty.data().model_id))
    }

    /// `T[]` for a resolved `T` (of this FFI, or structural).
    pub fn open_array_of(&self, item: &CType) -> Result<CType> {
        let item = self.localize(item)?;
        self.derived(Type::Array {
            item: item.data().model_id,
            len: ArrayLen::Open,
        })
    }
}
