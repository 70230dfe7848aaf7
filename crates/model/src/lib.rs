//! The sample model at the centre of stackconv.
//!
//! Every input format is read into a [`Profile`] and every output format is
//! written from one. A profile is interned and columnar:
//!
//! - a [`StringTable`]: every name once, addressed by [`StringId`];
//! - [`Frame`]s (name, module, file, line, [`FrameKind`]), interned: equal
//!   frames share one [`FrameId`];
//! - a [`StackTable`], a prefix tree of [`StackNode`]s: equal stacks share one
//!   [`StackId`], so folding is counting ids;
//! - [`Thread`]s (pid, tid, process and thread name);
//! - one or more value columns, each described by a [`ValueType`];
//! - the samples, as columns: stack, thread, optional timestamp, and one
//!   value per value type;
//! - [`Meta`]: where the profile came from and what was lost on the way.
//!
//! Operations are plain functions from profile to profile ([`Profile::fold`],
//! [`merge`], [`diff()`], [`Profile::filter_samples`], [`Profile::map_stacks`])
//! and keep the conservation law: the total of every value column is the
//! same before and after. Rules about what a frame is (its kind, Python
//! identity, root text and annotation) are in [`naming`]; operations that
//! carry policy (sample filters, pprof's stack transforms, the Python view,
//! wait classification, top functions) are in the `stackconv-ops` crate.
//!
//! # Example
//!
//! ```
//! use stackconv_model::{FrameKind, Profile, ValueType};
//!
//! let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
//! let main = p.intern_frame_named("main", FrameKind::Native);
//! let work = p.intern_frame_named("work", FrameKind::Native);
//! let stack = p.intern_stack_frames([main, work]);
//! let thread = p.intern_thread_named(Some(1), Some(1), "app", "app");
//! p.push_sample(stack, thread, None, &[3]);
//! p.push_sample(stack, thread, None, &[4]);
//!
//! let folded = p.fold();
//! assert_eq!(folded.samples().len(), 1);
//! assert_eq!(folded.total(0), 7);
//! assert_eq!(p.stack_names(stack), vec!["main", "work"]);
//! # let _ = (Frame::default(), Thread::default());
//! # use stackconv_model::{Frame, Thread};
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod batch;
mod ops;
mod profile;
mod strings;
mod tables;

pub use batch::{ExpandKey, PathBuilder, PathId, PathMark, SpilledRows, StackBatch};
pub use ops::{merge, MergeError};
pub mod limits;
pub mod memory;
pub mod naming;
pub mod pruning;
pub mod render;

// The generic operation that compares two profiles; the operations that
// carry policy (filters, transforms, views, idle, top) are in the
// stackconv-ops crate.
pub mod diff;

pub use diff::{diff, Diff, DiffError, DiffRow};

pub use profile::{
    ColumnLengthError, Label, Loss, Meta, Module, Profile, SampleRef, Samples, StackCache,
    ValueNameError, ValueType,
};
pub use strings::{StringId, StringTable};
pub use tables::{
    Frame, FrameId, FrameKind, FrameTable, StackId, StackNode, StackTable, Thread, ThreadId,
    ThreadTable,
};
