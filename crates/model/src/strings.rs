//! The string table: every name stored once.

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

/// The id of a string in a [`StringTable`]. Only the table mints ids.
///
/// [`StringId::EMPTY`] is the empty string, present in every table; it
/// stands for "no name".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct StringId(u32);

impl StringId {
    /// The empty string, id 0 in every table.
    pub const EMPTY: StringId = StringId(0);

    /// The index of this string in its table.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// Whether this is the empty string.
    pub fn is_empty(self) -> bool {
        self == Self::EMPTY
    }
}

/// Interned strings.
///
/// ```
/// use stackconv_model::{StringId, StringTable};
/// let mut t = StringTable::new();
/// let a = t.intern("main");
/// assert_eq!(t.intern("main"), a);
/// assert_eq!(t.get(a), "main");
/// assert_eq!(t.intern(""), StringId::EMPTY);
/// ```
#[derive(Clone, Debug)]
pub struct StringTable {
    strings: Vec<Arc<str>>,
    index: HashMap<Arc<str>, StringId>,
}

impl Default for StringTable {
    fn default() -> Self {
        Self::new()
    }
}

impl StringTable {
    /// A table holding only the empty string.
    pub fn new() -> Self {
        let empty: Arc<str> = Arc::from("");
        let mut index = HashMap::default();
        index.insert(empty.clone(), StringId::EMPTY);
        StringTable {
            strings: vec![empty],
            index,
        }
    }

    /// The id of `s`, adding it if it is new.
    ///
    /// # Panics
    ///
    /// When the table already holds `u32::MAX` strings.
    pub fn intern(&mut self, s: &str) -> StringId {
        if let Some(&id) = self.index.get(s) {
            return id;
        }
        let id = StringId(u32::try_from(self.strings.len()).expect("more than 2^32 strings"));
        let s: Arc<str> = Arc::from(s);
        self.strings.push(s.clone());
        self.index.insert(s, id);
        id
    }

    /// The id of `s` if the table holds it.
    pub fn lookup(&self, s: &str) -> Option<StringId> {
        self.index.get(s).copied()
    }

    /// The string behind `id` (the empty string for an id of another table
    /// that is out of range).
    pub fn get(&self, id: StringId) -> &str {
        self.strings.get(id.index()).map(|s| &**s).unwrap_or("")
    }

    /// How many strings the table holds, the empty string included.
    pub fn len(&self) -> usize {
        self.strings.len()
    }

    /// Always false: the empty string is always present.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// All strings in id order.
    pub fn iter(&self) -> impl Iterator<Item = (StringId, &str)> {
        self.strings
            .iter()
            .enumerate()
            .map(|(i, s)| (StringId(i as u32), &**s))
    }
}
