//! Interning many stacks at once.
//!
//! Interning a stack node by node costs one hash lookup per frame, and on a
//! large recording with deep, diverse stacks (millions of distinct nodes)
//! each lookup is a cache miss in a big index. [`StackBatch`] instead keeps
//! each distinct stack as a path of frame ids and, at the end, sorts the
//! paths: in sorted order every path shares its longest common prefix with
//! the one before it, so the prefix tree is built by comparing neighbours,
//! and a node beyond that prefix is new by construction.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rayon::slice::ParallelSliceMut;
use rustc_hash::FxBuildHasher;

use crate::tables::{FrameId, StackId, StackNode, StackTable};

/// The id of a path added to a [`StackBatch`]: an index into the vector
/// [`StackBatch::intern_into`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathId(u32);

impl PathId {
    /// The index of this path in the batch.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Distinct stacks, each a path of frames from the root, interned into a
/// [`StackTable`] together.
///
/// ```
/// use stackconv_model::{FrameKind, Profile, StackBatch};
/// let mut p = Profile::new(vec![]);
/// let (a, b, c) = (
///     p.intern_frame_named("a", FrameKind::Native),
///     p.intern_frame_named("b", FrameKind::Native),
///     p.intern_frame_named("c", FrameKind::Native),
/// );
/// let mut batch = StackBatch::default();
/// let abc = batch.add(&[a, b, c]);
/// let ab = batch.add(&[a, b]);
/// assert_eq!(batch.add(&[a, b, c]), abc, "equal paths share an id");
/// let stacks = batch.intern_into(p.stacks_mut());
/// assert_eq!(stacks[abc.index()], p.intern_stack_frames([a, b, c]));
/// assert_eq!(stacks[ab.index()], p.intern_stack_frames([a, b]));
/// assert_eq!(p.stacks().len(), 3, "a, a;b and a;b;c");
/// ```
#[derive(Clone, Debug, Default)]
pub struct StackBatch {
    /// Frame ids of all paths, big-endian, so that comparing bytes orders
    /// paths frame by frame.
    bytes: Vec<u8>,
    /// Start of each path in `bytes`; its end is the next start.
    starts: Vec<usize>,
    /// (hash of its bytes, path id) of every path.
    index: HashTable<(u64, u32)>,
}

impl StackBatch {
    /// How many distinct paths the batch holds.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    fn path(&self, id: u32) -> &[u8] {
        let i = id as usize;
        let start = self.starts.get(i).copied().unwrap_or(0);
        let end = self.starts.get(i + 1).copied().unwrap_or(self.bytes.len());
        self.bytes.get(start..end).unwrap_or_default()
    }

    /// The id of the path `root_first` (the frames of a stack from the root
    /// to the leaf), adding it if it is new. The empty path is a path too:
    /// it interns as no stack (`None`).
    ///
    /// # Panics
    ///
    /// When the batch already holds `u32::MAX` paths.
    pub fn add(&mut self, root_first: &[FrameId]) -> PathId {
        let start = self.bytes.len();
        self.bytes.reserve(root_first.len() * 4);
        for f in root_first {
            self.bytes
                .extend_from_slice(&(f.index() as u32).to_be_bytes());
        }
        let hash = FxBuildHasher.hash_one(self.bytes.get(start..).unwrap_or_default());
        let (bytes, starts) = (&self.bytes, &self.starts);
        let path = |id: u32| {
            let i = id as usize;
            let s = starts.get(i).copied().unwrap_or(0);
            let e = starts.get(i + 1).copied().unwrap_or(start);
            bytes.get(s..e).unwrap_or_default()
        };
        let new = bytes.get(start..).unwrap_or_default();
        if let Some(&(_, id)) = self
            .index
            .find(hash, |&(h, id)| h == hash && path(id) == new)
        {
            self.bytes.truncate(start);
            return PathId(id);
        }
        #[allow(clippy::expect_used)]
        let id = u32::try_from(self.starts.len()).expect("more than 2^32 paths");
        self.starts.push(start);
        self.index.insert_unique(hash, (hash, id), |&(h, _)| h);
        PathId(id)
    }

    /// Intern every path into `table`: the result holds, at each path's
    /// index, its leaf stack (`None` for the empty path).
    ///
    /// Paths are interned in sorted order, so the ids of nodes that are new
    /// to the table follow the sorted order of the paths; parents still come
    /// before their children.
    pub fn intern_into(self, table: &mut StackTable) -> Vec<Option<StackId>> {
        // Sorted by the first sixteen bytes (four frames), then the whole
        // path: most comparisons are decided by the key, in the array being
        // sorted, without reading two paths from random places.
        let mut order: Vec<(u128, u32)> = (0..self.starts.len() as u32)
            .map(|id| (sort_key(self.path(id)), id))
            .collect();
        order.par_sort_unstable_by(|&(ka, a), &(kb, b)| {
            ka.cmp(&kb).then_with(|| self.path(a).cmp(self.path(b)))
        });
        // Nodes past the common prefix with the previous path are new to
        // the table when it started empty: they are appended without an
        // index. Otherwise they are looked up.
        let fresh = table.is_empty();
        let mut built: Vec<StackNode> = Vec::new();
        if fresh {
            // At most one node per frame of a path.
            built.reserve(self.bytes.len() / 4);
        }
        let mut out = vec![None; self.starts.len()];
        let mut nodes: Vec<StackId> = Vec::new();
        let mut prev: &[u8] = &[];
        for (_, id) in order {
            let cur = self.path(id);
            let shared = common_prefix(prev, cur) / 4;
            nodes.truncate(shared);
            for chunk in cur.get(shared * 4..).unwrap_or_default().chunks_exact(4) {
                let mut word = [0u8; 4];
                word.copy_from_slice(chunk);
                let node = StackNode {
                    parent: nodes.last().copied(),
                    frame: FrameId::from_index(u32::from_be_bytes(word)),
                };
                let stack = if fresh {
                    built.push(node);
                    StackId::from_index((built.len() - 1) as u32)
                } else {
                    table.intern(node)
                };
                nodes.push(stack);
            }
            if let Some(slot) = out.get_mut(id as usize) {
                *slot = nodes.last().copied();
            }
            prev = cur;
        }
        if fresh {
            table.set_nodes(built);
        }
        out
    }
}

/// The first sixteen bytes of `path`, zero-padded, as a number that orders
/// as the bytes do: paths whose keys differ compare as their keys; equal
/// keys need the whole paths (a shorter path padded with zeros can equal a
/// longer one's key).
fn sort_key(path: &[u8]) -> u128 {
    let mut key = [0u8; 16];
    let n = path.len().min(16);
    if let (Some(k), Some(p)) = (key.get_mut(..n), path.get(..n)) {
        k.copy_from_slice(p);
    }
    u128::from_be_bytes(key)
}

/// The length in bytes of the common prefix of `a` and `b`.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let mut n = 0;
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in ca.by_ref().zip(cb.by_ref()) {
        if x != y {
            break;
        }
        n += 8;
    }
    let rest_a = a.get(n..).unwrap_or_default();
    let rest_b = b.get(n..).unwrap_or_default();
    n + rest_a
        .iter()
        .zip(rest_b)
        .take_while(|(x, y)| x == y)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_prefix_lengths() {
        assert_eq!(common_prefix(b"", b"abc"), 0);
        assert_eq!(common_prefix(b"abcdefghij", b"abcdefghik"), 9);
        assert_eq!(common_prefix(b"abcdefgh", b"abcdefgh"), 8);
        assert_eq!(common_prefix(b"abcdefgxyz", b"abcdefghij"), 7);
        assert_eq!(common_prefix(b"ab", b"abcdefghijkl"), 2);
    }
}
