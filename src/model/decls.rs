//! Everything one FFI has been told by its `cdef()` calls, by name.

use std::collections::{BTreeMap, BTreeSet};

use super::{Type, TypeId, TypeTable};

/// The value of a constant declared in a cdef.
#[derive(Clone, Debug, PartialEq)]
pub enum ConstValue {
    /// `#define N 42`, an enumerator, or an integer `static const` with a value.
    Int(i128),
    /// `#define N ...`, `static const T N;`: the compiler (or the library) knows it.
    Unknown,
    /// The cdef gave a value and the compiler found another: reading it is an
    /// error ([`ConstValue::disagreement`]), as CFFI reports it on access.
    Disagrees { compiler: i128, cdef: i128 },
}

impl ConstValue {
    /// The value the cdef gave, if any.
    pub fn declared(&self) -> Option<i128> {
        match self {
            ConstValue::Int(v) | ConstValue::Disagrees { cdef: v, .. } => Some(*v),
            ConstValue::Unknown => None,
        }
    }

    /// CFFI's message for reading constant `name` whose values disagree.
    pub fn disagreement(&self, name: &str) -> Option<String> {
        let ConstValue::Disagrees { compiler, .. } = self else {
            return None;
        };
        let hex = if *compiler > 0 {
            format!(" (0x{compiler:x})")
        } else {
            String::new()
        };
        Some(format!(
            "the C compiler says '{name}' is equal to {compiler}{hex}, but the cdef disagrees"
        ))
    }
}

/// A global variable (`extern T x;`).
#[derive(Clone, Debug, PartialEq)]
pub struct GlobalVar {
    pub ty: TypeId,
    /// Declared `const` at its top level (`T *const x`): read-only from Python.
    pub is_const: bool,
}

impl GlobalVar {
    /// Whether CFFI reads this global as a constant (its value, a copy for a
    /// struct or union, never its address): `const` at its top level and not an
    /// array, whose items are read in place. In a compiled module it may then
    /// be a macro or a function.
    pub fn reads_as_constant(&self, table: &TypeTable) -> bool {
        self.is_const && !matches!(table.get(self.ty), Type::Array { .. })
    }
}

/// One named declaration in the `lib` namespace or the type namespace.
#[derive(Clone, Debug, PartialEq)]
pub enum Decl {
    /// `typedef T name;`
    Typedef(TypeId),
    /// A function the library (or the sandboxed module) provides; `ty` is a `Type::Function`.
    Function {
        ty: TypeId,
    },
    /// `extern "Python"` (or `"Python+C"`) function, implemented in Python; `ty` is a `Type::Function`.
    ExternPython {
        ty: TypeId,
        also_c: bool,
        /// The parameter types as the cdef spells them, qualifiers kept (the
        /// model drops `const`), for the C definition the glue emits; empty
        /// when not known (the glue then spells the model's types).
        param_text: Vec<String>,
    },
    Global(GlobalVar),
    /// `#define`, `static const`, or an enumerator. `ty` is the constant's type
    /// (`int` for `#define` integers, the enum type for enumerators).
    Constant {
        ty: TypeId,
        value: ConstValue,
    },
}

/// The accumulated result of every `cdef()` on one FFI.
#[derive(Clone, Debug, Default)]
pub struct Declarations {
    pub types: TypeTable,
    /// `typedef` names.
    pub typedefs: BTreeMap<String, TypeId>,
    /// The typedef names whose type is `const` at its top level (`typedef
    /// const int c_t;`): a global declared with one is `const` (the model's
    /// types carry no qualifiers).
    pub const_typedefs: BTreeSet<String>,
    /// Struct and union tags (`struct foo` → `foo`), without `$`-named anonymous ones.
    pub struct_tags: BTreeMap<String, TypeId>,
    pub union_tags: BTreeMap<String, TypeId>,
    pub enum_tags: BTreeMap<String, TypeId>,
    /// Functions, globals, constants and enumerators: what `lib` exposes, by name,
    /// in declaration order within each `cdef()`.
    pub lib_items: BTreeMap<String, Decl>,
    /// What the compiler contradicted in exact declarations (constants and
    /// enumerators), which CFFI's API mode accepts (a constant fails when
    /// read) but `verify()` refuses: one message each ("FOO has the real value
    /// 124, not 123", "enum e: A has the real value 2, not 1").
    pub contradicted: Vec<String>,
    /// `lib` names that came from an `ffi.include()` of another compiled
    /// module, with that module's name: the module provides them (its `lib`
    /// has them), so a build emits no glue for them.
    pub included: BTreeMap<String, String>,
}

impl Declarations {
    /// An empty set of declarations.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the `lib` names declared since `before` (the names there were then)
    /// as provided by compiled module `module` (see [`Declarations::included`]);
    /// a name already marked keeps its module.
    pub fn mark_included(&mut self, before: &BTreeSet<String>, module: &str) {
        for name in self.lib_items.keys() {
            if !before.contains(name) && !self.included.contains_key(name) {
                self.included.insert(name.clone(), module.to_owned());
            }
        }
    }
}
