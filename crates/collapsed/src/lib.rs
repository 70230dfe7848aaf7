//! Folded stacks, `perf script` text and py-spy raw output for stackconv.
//!
//! Three text formats, read into a [`stackconv_model::Profile`]:
//!
//! - [`folded`]: `frame;frame;... count` lines (and the two-count diff
//!   form); also written, exactly as inferno-collapse-perf writes it;
//! - [`perf_script`]: the text `perf script` prints, frames named as
//!   inferno-collapse-perf names them;
//! - [`pyspy`]: py-spy's `--format raw` output.
//!
//! Each has a `looks_like` for content sniffing.
//!
//! ```
//! use stackconv_collapsed::{folded, perf_script};
//!
//! let text = b"python3 100/101 12.5: 1000 cpu-clock: \n\
//! \t  ffffffff8123 do_syscall_64+0x5 ([kernel.kallsyms])\n\
//! \t  7f00 py::handle:/app/web.py (/tmp/perf-100.map)\n\n";
//! let p = perf_script::read(text)?;
//! let mut opts = folded::WriteOptions::default();
//! opts.annotate = true;
//! let mut out = Vec::new();
//! folded::write(&p, &opts, &mut out)?;
//! assert_eq!(
//!     String::from_utf8(out)?,
//!     "python3;py::handle:/app/web.py_[j];do_syscall_64_[k] 1000\n"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]
#![deny(missing_docs)]

mod error;
pub mod folded;
mod line_order;
mod lines;
pub mod perf_script;
pub mod prune;
pub mod pyspy;
mod stack_lines;

pub use error::Error;
pub use stackconv_model;
