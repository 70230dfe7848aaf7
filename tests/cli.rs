//! End-to-end tests of the stackconv command.
