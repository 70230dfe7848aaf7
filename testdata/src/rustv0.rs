//! rustv0: small CPU-bound Rust workload for stackconv's perf test data.
//!
//! Built with `rustc -O -C force-frame-pointers=yes
//! -C symbol-mangling-version=v0 -C debuginfo=1` (see testdata/record.sh), so
//! its own symbols use the v0 mangling (`_R...`): generic functions, trait
//! methods, closures and nested modules give names with generic arguments,
//! `<impl ...>` paths and `{closure#0}`. The precompiled standard library it
//! links keeps the legacy mangling (`_ZN...E`), so both kinds appear.
//!
//! Usage: rustv0 [milliseconds]
use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

pub mod shapes {
    pub trait Area {
        fn area(&self) -> f64;
    }

    pub struct Circle(pub f64);
    pub struct Rect<T>(pub T, pub T);

    impl Area for Circle {
        #[inline(never)]
        fn area(&self) -> f64 {
            let mut a = 0.0;
            for i in 0..2000 {
                a += (self.0 * i as f64).sin().abs();
            }
            a
        }
    }

    impl<T: Copy + Into<f64>> Area for Rect<T> {
        #[inline(never)]
        fn area(&self) -> f64 {
            let mut a = 0.0;
            for i in 0..2000 {
                a += (self.0.into() * self.1.into() + i as f64).sqrt();
            }
            a
        }
    }

    #[inline(never)]
    pub fn total<S: Area + ?Sized>(items: &[Box<S>]) -> f64 {
        items.iter().map(|s| s.area()).sum()
    }
}

pub mod work {
    use super::*;

    #[inline(never)]
    pub fn fib(n: u32) -> u64 {
        if n < 2 {
            n as u64
        } else {
            fib(n - 1) + fib(n - 2)
        }
    }

    #[inline(never)]
    pub fn sort_words<const N: usize>(seed: u64) -> usize {
        let mut words: Vec<String> = (0..N as u64)
            .map(|i| format!("w{:x}", (i * 2654435761 + seed) % 100003))
            .collect();
        words.sort_unstable_by(|a, b| b.cmp(a));
        words.len()
    }

    #[inline(never)]
    pub fn count_map(seed: u64) -> usize {
        let mut m: HashMap<u64, u32> = HashMap::new();
        for i in 0..4000u64 {
            *m.entry((i * seed) % 977).or_default() += 1;
        }
        m.len()
    }
}

fn main() {
    let ms: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500);
    let end = Instant::now() + Duration::from_millis(ms);
    let shapes: Vec<Box<dyn shapes::Area>> = vec![
        Box::new(shapes::Circle(1.5)),
        Box::new(shapes::Rect(3u32, 4u32)),
        Box::new(shapes::Rect(2.5f32, 1.0f32)),
    ];
    let mut seed = 1u64;
    let mut acc = 0.0;
    while Instant::now() < end {
        acc += shapes::total(&shapes);
        acc += work::fib(black_box(20)) as f64;
        acc += work::sort_words::<512>(seed) as f64;
        acc += work::count_map(seed) as f64;
        seed += 1;
    }
    eprintln!("{acc}");
}
