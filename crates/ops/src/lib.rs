//! Operations on [`stackconv_model`] profiles that carry policy: which
//! samples to keep, how to rewrite stacks, which frames a Python user
//! reads, which functions mean waiting, and what a function's self and
//! total weights are.
//!
//! The model crate holds the data and the generic operations on it
//! (fold, merge, diff, filtering by a predicate, mapping stacks); this
//! crate holds the rules built on them, each in one module:
//!
//! - [`wait_rules`]: the one table of wait functions (C library, CPython,
//!   Go runtime, kernel) and what counts as a C-library frame;
//! - [`idle`]: the idle classifier and the off-CPU wait report built on
//!   that table;
//! - [`view`]: the mixed, Python-only and native-only views of Python +
//!   native stacks;
//! - [`filter`](mod@filter): sample filters (pid, tid, names, event, time, idle);
//! - [`transform`](mod@transform): stack transforms (pprof's focus / ignore / hide /
//!   show / prune semantics, granularity);
//! - [`top`](mod@top): flat and cumulative weights per function, as
//!   `go tool pprof -top` lists them.
//!
//! # Example
//!
//! ```
//! use stackconv_model::{FrameKind, Profile, ValueType};
//! use stackconv_ops::idle::{classify, Wait};
//!
//! let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
//! let main = p.intern_frame_named("main", FrameKind::Native);
//! let lock = p.intern_frame_named("__lll_lock_wait", FrameKind::Native);
//! let work = p.intern_frame_named("work", FrameKind::Native);
//! let waiting = p.intern_stack_frames([main, lock]);
//! let busy = p.intern_stack_frames([main, work]);
//! let thread = p.intern_thread_named(Some(1), Some(1), "app", "app");
//! p.push_sample(waiting, thread, None, &[1]);
//! p.push_sample(busy, thread, None, &[1]);
//! // One answer per sample.
//! assert_eq!(classify(&p, &[]), [Some(Wait::Lock), None]);
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

pub mod filter;
pub mod idle;
pub mod top;
pub mod transform;
pub mod view;
pub mod wait_rules;

pub use filter::{filter, Filtered, IdleFilter, SampleFilter, TimeRange};
pub use idle::{classify, wait_report, wait_sites, Wait, WaitReport, WaitScope, WaitSite};
pub use top::{top, TopRow};
pub use transform::{transform, Granularity, StackTransform, Transformed};
pub use view::{apply_view, View};
