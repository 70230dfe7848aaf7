//! Interned tables: frames, stacks (a prefix tree) and threads.

use rustc_hash::FxHashMap as HashMap;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::OnceLock;

use crate::strings::StringId;

/// Most entries a table holds (ids are the index plus one in a `u32`).
pub(crate) const MAX_ENTRIES: usize = u32::MAX as usize - 1;

/// The index the next entry of a table of `len` entries gets.
///
/// # Panics
///
/// When the table is full ([`MAX_ENTRIES`]).
fn next_index(len: usize) -> u32 {
    assert!(len < MAX_ENTRIES, "more than {MAX_ENTRIES} table entries");
    len as u32
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Stored as the index plus one, so that an `Option` of it takes no
        /// more room than the id.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(NonZeroU32);

        impl $name {
            /// The index of this entry in its table.
            pub fn index(self) -> usize {
                (self.0.get() - 1) as usize
            }

            /// The id at index `i` (for tables built in this crate; `i` is
            /// below [`MAX_ENTRIES`]).
            pub(crate) fn from_index(i: u32) -> Self {
                $name(NonZeroU32::MIN.saturating_add(i))
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.index())
            }
        }
    };
}

id_type!(
    /// The id of a [`Frame`] in a [`FrameTable`]. Only the table mints ids.
    FrameId
);
id_type!(
    /// The id of a [`StackNode`] in a [`StackTable`]: a whole stack, from
    /// the root to this node. Only the table mints ids.
    StackId
);
id_type!(
    /// The id of a [`Thread`] in a [`ThreadTable`]. Only the table mints ids.
    ThreadId
);

/// What kind of code a frame is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
pub enum FrameKind {
    /// Native user-space code (ELF symbols).
    Native,
    /// Kernel code.
    Kernel,
    /// A Python function (py-spy frames, `py::` perf-map entries).
    Python,
    /// JIT-compiled code named by a perf map or jitdump (not Python).
    Jit,
    /// A frame inlined into its caller (from DWARF or pprof inline lines).
    Inline,
    /// Unknown: no symbol, or the input did not say.
    #[default]
    Unknown,
}

impl FrameKind {
    /// Every kind, in the order of the enum.
    pub const ALL: [FrameKind; 6] = [
        FrameKind::Native,
        FrameKind::Kernel,
        FrameKind::Python,
        FrameKind::Jit,
        FrameKind::Inline,
        FrameKind::Unknown,
    ];

    /// The kind whose [`as_str`](Self::as_str) name is `name`.
    ///
    /// ```
    /// use stackconv_model::FrameKind;
    /// for kind in FrameKind::ALL {
    ///     assert_eq!(FrameKind::from_name(kind.as_str()), Some(kind));
    /// }
    /// assert_eq!(FrameKind::from_name("Python"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<FrameKind> {
        FrameKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// A short lowercase name (`native`, `kernel`, `python`, `jit`,
    /// `inline`, `unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            FrameKind::Native => "native",
            FrameKind::Kernel => "kernel",
            FrameKind::Python => "python",
            FrameKind::Jit => "jit",
            FrameKind::Inline => "inline",
            FrameKind::Unknown => "unknown",
        }
    }

    /// One lowercase letter per kind, distinct (`n`, `k`, `p`, `j`, `i`,
    /// `u`): how compact outputs (the HTML report's data) spell the kind.
    ///
    /// ```
    /// use stackconv_model::FrameKind;
    /// assert_eq!(FrameKind::Python.letter(), 'p');
    /// let mut letters: Vec<char> = FrameKind::ALL.iter().map(|k| k.letter()).collect();
    /// letters.dedup();
    /// assert_eq!(letters.len(), FrameKind::ALL.len());
    /// ```
    pub fn letter(self) -> char {
        match self {
            FrameKind::Native => 'n',
            FrameKind::Kernel => 'k',
            FrameKind::Python => 'p',
            FrameKind::Jit => 'j',
            FrameKind::Inline => 'i',
            FrameKind::Unknown => 'u',
        }
    }

    /// The colour (red, green, blue) flame graphs give a frame of this
    /// kind named `name`: Python in greens and teals, native code in the
    /// reds and yellows of the classic "hot" palette, inlined frames in
    /// light oranges, kernel in orange, JIT in aqua, unknown in grey; varied
    /// within the kind's band by a hash of the name so that neighbours are
    /// told apart (as inferno's palettes do). The SVG and the HTML report
    /// both use it.
    ///
    /// ```
    /// use stackconv_model::FrameKind;
    /// let [r, g, _] = FrameKind::Python.color("handler (app.py)");
    /// assert!(g > r);
    /// assert_eq!(FrameKind::Native.color("main"), FrameKind::Native.color("main"));
    /// ```
    pub fn color(self, name: &str) -> [u8; 3] {
        // FNV-1a: stable across runs and platforms, so outputs are reproducible.
        let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let v = (h % 1000) as f64 / 1000.0;
        let w = ((h / 1000) % 1000) as f64 / 1000.0;
        let lerp = |lo: f64, hi: f64, t: f64| (lo + (hi - lo) * t).round().clamp(0.0, 255.0) as u8;
        let (r, g, b) = match self {
            FrameKind::Python => (
                lerp(40.0, 110.0, v),
                lerp(170.0, 220.0, w),
                lerp(90.0, 170.0, v),
            ),
            FrameKind::Native => (
                lerp(205.0, 255.0, v),
                lerp(0.0, 230.0, w),
                lerp(0.0, 55.0, v),
            ),
            FrameKind::Inline => (
                lerp(225.0, 255.0, v),
                lerp(120.0, 200.0, w),
                lerp(50.0, 90.0, v),
            ),
            FrameKind::Kernel => (
                lerp(230.0, 255.0, v),
                lerp(120.0, 160.0, w),
                lerp(0.0, 40.0, v),
            ),
            FrameKind::Jit => (
                lerp(50.0, 110.0, v),
                lerp(190.0, 230.0, w),
                lerp(200.0, 240.0, v),
            ),
            FrameKind::Unknown => (
                lerp(170.0, 200.0, v),
                lerp(170.0, 200.0, v),
                lerp(170.0, 200.0, v),
            ),
        };
        [r, g, b]
    }
}

/// One frame of a stack.
///
/// `name` is the frame's display name as the source tool shows it (for a
/// perf-map Python frame `py::func:/app/file.py`, for py-spy
/// `func (file.py:12)`), so that folded output round-trips exactly; `file`,
/// `line` and `module` carry what is known separately. Absent strings are
/// [`StringId::EMPTY`]; an absent line is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Frame {
    /// The display name.
    pub name: StringId,
    /// The binary or module the code belongs to (path or base name).
    pub module: StringId,
    /// The source file.
    pub file: StringId,
    /// The source line, 0 when unknown.
    pub line: u32,
    /// What kind of code this is.
    pub kind: FrameKind,
}

/// A row of the stack prefix tree: a frame and the stack it was called from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StackNode {
    /// The caller's stack, `None` for a root frame.
    pub parent: Option<StackId>,
    /// This frame.
    pub frame: FrameId,
}

/// A process and thread a sample was taken in.
///
/// Inputs that know no threads (folded text) use [`Thread::default`]: no
/// pid, no tid, no names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Thread {
    /// Process id.
    pub pid: Option<u32>,
    /// Thread id.
    pub tid: Option<u32>,
    /// The process's name (the comm of its main thread, or the command).
    pub process_name: StringId,
    /// The thread's name (its comm, as `perf script` prints it).
    pub thread_name: StringId,
}

/// An interning table: a vector of values and an index from value to id.
#[derive(Clone, Debug)]
struct Interner<T: Hash + Eq + Copy> {
    items: Vec<T>,
    index: HashMap<T, u32>,
}

impl<T: Hash + Eq + Copy> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            items: Vec::new(),
            index: HashMap::default(),
        }
    }
}

impl<T: Hash + Eq + Copy> Interner<T> {
    fn intern(&mut self, item: T) -> u32 {
        // One hash and one probe, found or not.
        match self.index.entry(item) {
            std::collections::hash_map::Entry::Occupied(e) => *e.get(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let id = next_index(self.items.len());
                self.items.push(item);
                e.insert(id);
                id
            }
        }
    }
}

macro_rules! table {
    ($(#[$doc:meta])* $name:ident, $item:ty, $id:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default)]
        pub struct $name(Interner<$item>);

        impl $name {
            /// The id of `item`, adding it if it is new.
            ///
            /// # Panics
            ///
            /// When the table already holds `u32::MAX` entries.
            pub fn intern(&mut self, item: $item) -> $id {
                $id::from_index(self.0.intern(item))
            }

            /// The id of `item` if the table holds it.
            pub fn lookup(&self, item: &$item) -> Option<$id> {
                self.0.index.get(item).map(|&i| $id::from_index(i))
            }

            /// The entry behind `id`.
            ///
            /// # Panics
            ///
            /// When `id` comes from another, larger table.
            pub fn get(&self, id: $id) -> &$item {
                #[allow(clippy::indexing_slicing)]
                &self.0.items[id.index()]
            }

            /// How many entries the table holds.
            pub fn len(&self) -> usize {
                self.0.items.len()
            }

            /// Whether the table is empty.
            pub fn is_empty(&self) -> bool {
                self.0.items.is_empty()
            }

            /// All entries in id order.
            pub fn iter(&self) -> impl Iterator<Item = ($id, &$item)> {
                self.0.items.iter().enumerate().map(|(i, t)| ($id::from_index(i as u32), t))
            }
        }
    };
}

table!(
    /// Interned frames.
    FrameTable,
    Frame,
    FrameId
);
table!(
    /// Interned threads.
    ThreadTable,
    Thread,
    ThreadId
);

/// The stack prefix tree. A parent always has a smaller id than its
/// children, so walking ids in order visits callers first.
///
/// Its index from node to id is built on first use: a table filled by
/// [`crate::StackBatch`] (which needs no index) and only read never pays
/// for one.
#[derive(Clone, Debug, Default)]
pub struct StackTable {
    items: Vec<StackNode>,
    index: OnceLock<HashMap<StackNode, u32>>,
}

impl StackTable {
    fn build_index(items: &[StackNode]) -> HashMap<StackNode, u32> {
        let mut index = HashMap::default();
        index.reserve(items.len());
        for (i, &node) in items.iter().enumerate() {
            index.insert(node, i as u32);
        }
        index
    }

    fn next_id(&self) -> StackId {
        StackId::from_index(next_index(self.items.len()))
    }

    /// The id of `item`, adding it if it is new.
    ///
    /// # Panics
    ///
    /// When the table already holds `u32::MAX` entries.
    pub fn intern(&mut self, item: StackNode) -> StackId {
        let id = self.next_id();
        if self.index.get().is_none() {
            let index = Self::build_index(&self.items);
            let _ = self.index.set(index);
        }
        let Some(index) = self.index.get_mut() else {
            unreachable!("the index was just built")
        };
        match index.entry(item) {
            std::collections::hash_map::Entry::Occupied(e) => StackId::from_index(*e.get()),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(id.index() as u32);
                self.items.push(item);
                id
            }
        }
    }

    /// Replace the nodes of an empty table by `nodes`: distinct, parents
    /// before children (as [`crate::StackBatch`] builds them); indexed on
    /// first use.
    pub(crate) fn set_nodes(&mut self, nodes: Vec<StackNode>) {
        debug_assert!(self.items.is_empty());
        assert!(
            nodes.len() <= MAX_ENTRIES,
            "more than {MAX_ENTRIES} stack nodes"
        );
        self.items = nodes;
        self.index = OnceLock::new();
    }

    /// The id of `item` if the table holds it.
    pub fn lookup(&self, item: &StackNode) -> Option<StackId> {
        self.index
            .get_or_init(|| Self::build_index(&self.items))
            .get(item)
            .map(|&i| StackId::from_index(i))
    }

    /// The entry behind `id`.
    ///
    /// # Panics
    ///
    /// When `id` comes from another, larger table.
    pub fn get(&self, id: StackId) -> &StackNode {
        #[allow(clippy::indexing_slicing)]
        &self.items[id.index()]
    }

    /// How many entries the table holds.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// All entries in id order.
    pub fn iter(&self) -> impl Iterator<Item = (StackId, &StackNode)> {
        self.items
            .iter()
            .enumerate()
            .map(|(i, t)| (StackId::from_index(i as u32), t))
    }

    /// The nodes in id order (callers before callees).
    pub fn nodes(&self) -> &[StackNode] {
        &self.items
    }

    /// The frames of `stack`, from the root to the leaf.
    pub fn frames(&self, stack: StackId) -> Vec<FrameId> {
        let mut out: Vec<FrameId> = self.frames_leaf_first(stack).collect();
        out.reverse();
        out
    }

    /// The frames of `stack`, from the leaf to the root.
    pub fn frames_leaf_first(&self, stack: StackId) -> impl Iterator<Item = FrameId> + '_ {
        let mut next = Some(stack);
        std::iter::from_fn(move || {
            let node = self.get(next?);
            next = node.parent;
            Some(node.frame)
        })
    }

    /// How many frames `stack` has.
    pub fn depth(&self, stack: StackId) -> usize {
        self.frames_leaf_first(stack).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_pack_into_options() {
        assert_eq!(std::mem::size_of::<Option<StackId>>(), 4);
        assert_eq!(std::mem::size_of::<StackNode>(), 8);
        let id = StackId::from_index(7);
        assert_eq!(id.index(), 7);
        assert_eq!(format!("{id:?}"), "StackId(7)");
        assert!(StackId::from_index(3) < StackId::from_index(4));
    }
}
