//! SVG flame graphs, icicles and differential flame graphs for stackconv, rendered by inferno
